//! A small blocking connection pool: connections are made on demand up to a maximum,
//! handed out to one caller at a time, and returned when the guard drops.

use crate::{PoolStats, StoreError};
use std::ops::{Deref, DerefMut};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

type Factory<T> = Box<dyn Fn() -> Result<T, StoreError> + Send + Sync>;

pub(crate) struct Pool<T> {
    state: Mutex<State<T>>,
    freed: Condvar,
    max: usize,
    make: Factory<T>,
}

struct State<T> {
    idle: Vec<T>,
    /// Connections in existence, idle or handed out.
    size: usize,
}

impl<T> Pool<T> {
    pub(crate) fn new(max: usize, make: Factory<T>) -> Pool<T> {
        Pool {
            state: Mutex::new(State {
                idle: Vec::new(),
                size: 0,
            }),
            freed: Condvar::new(),
            max,
            make,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new connection of the pool's kind that the caller keeps (not counted here).
    pub(crate) fn connect(&self) -> Result<T, StoreError> {
        (self.make)()
    }

    /// Adds a connection made elsewhere (the one that ran the migrations).
    pub(crate) fn put(&self, conn: T) {
        let mut s = self.lock();
        s.size += 1;
        s.idle.push(conn);
        self.freed.notify_one();
    }

    /// A connection, waiting at most `wait` for one to be free.
    pub(crate) fn get(&self, wait: Duration) -> Result<Pooled<'_, T>, StoreError> {
        let deadline = Instant::now() + wait;
        let mut s = self.lock();
        loop {
            if let Some(conn) = s.idle.pop() {
                return Ok(Pooled {
                    pool: self,
                    conn: Some(conn),
                });
            }
            if s.size < self.max {
                s.size += 1;
                drop(s);
                return match (self.make)() {
                    Ok(conn) => Ok(Pooled {
                        pool: self,
                        conn: Some(conn),
                    }),
                    Err(e) => {
                        self.lock().size -= 1;
                        self.freed.notify_one();
                        Err(e)
                    }
                };
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(StoreError::PoolTimeout(wait));
            }
            s = self
                .freed
                .wait_timeout(s, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    pub(crate) fn stats(&self) -> PoolStats {
        let s = self.lock();
        PoolStats {
            size: s.size,
            in_use: s.size - s.idle.len(),
            max: self.max,
        }
    }
}

/// A connection on loan from the pool.
pub(crate) struct Pooled<'a, T> {
    pool: &'a Pool<T>,
    conn: Option<T>,
}

impl<T> Pooled<'_, T> {
    /// Drops the connection instead of returning it (it is broken).
    pub(crate) fn discard(mut self) {
        if self.conn.take().is_some() {
            self.pool.lock().size -= 1;
            self.pool.freed.notify_one();
        }
    }
}

impl<T> Deref for Pooled<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.conn.as_ref().expect("present until dropped")
    }
}

impl<T> DerefMut for Pooled<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.conn.as_mut().expect("present until dropped")
    }
}

impl<T> Drop for Pooled<'_, T> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.pool.lock().idle.push(conn);
            self.pool.freed.notify_one();
        }
    }
}
