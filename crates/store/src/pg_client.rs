//! A blocking PostgreSQL client over tokio-postgres, like the `postgres` crate's, but whose
//! connect is bounded as a whole: TCP, TLS, startup and authentication within one timeout.
//!
//! The `postgres` crate's connect bounds only the TCP connect (`connect_timeout`), and a
//! client can only be made by that connect; a server that accepts and then never answers
//! would hold a pool checkout, or `serve`'s start, forever.

use crate::StoreError;
use futures_util::Stream;
use postgres::fallible_iterator::FallibleIterator;
use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::Poll;
use std::time::Duration;
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres::types::{BorrowToSql, ToSql};
use tokio_postgres::{Error, Row, RowStream, Socket, Statement};

/// The answers of a statement and of the batch sent after it
/// ([`PgClient::execute_then_batch`]).
pub(crate) type StatementThenBatch = (Result<u64, Error>, Result<(), Error>);

/// The answers of two queries sent together ([`PgClient::query_then_query`]).
pub(crate) type QueryThenQuery = (Result<Vec<Row>, Error>, Result<Vec<Row>, Error>);

/// The connection's task: reads the server's messages and writes the client's requests.
type Driver = Pin<Box<dyn Future<Output = Result<(), Error>> + Send>>;

/// A connection to PostgreSQL, used from one thread at a time, outside any async runtime.
pub(crate) enum PgClient {
    /// Made by [`Bounded::connect`]: what the store uses.
    Bounded(Bounded),
    /// Made by the `postgres` crate (tests connect with it on their own).
    Plain(postgres::Client),
}

impl From<Bounded> for PgClient {
    fn from(c: Bounded) -> PgClient {
        PgClient::Bounded(c)
    }
}

impl From<postgres::Client> for PgClient {
    fn from(c: postgres::Client) -> PgClient {
        PgClient::Plain(c)
    }
}

impl PgClient {
    pub(crate) fn prepare(&mut self, sql: &str) -> Result<Statement, Error> {
        match self {
            PgClient::Bounded(c) => c.prepare(sql),
            PgClient::Plain(c) => c.prepare(sql),
        }
    }

    pub(crate) fn execute(
        &mut self,
        st: &Statement,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, Error> {
        match self {
            PgClient::Bounded(c) => c.execute(st, params),
            PgClient::Plain(c) => c.execute(st, params),
        }
    }

    pub(crate) fn query(
        &mut self,
        st: &Statement,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, Error> {
        match self {
            PgClient::Bounded(c) => c.query(st, params),
            PgClient::Plain(c) => c.query(st, params),
        }
    }

    /// The rows of `st`, read from the server as they are taken.
    pub(crate) fn query_raw<P, I>(
        &mut self,
        st: &Statement,
        params: I,
    ) -> Result<RowIter<'_>, Error>
    where
        P: BorrowToSql,
        I: IntoIterator<Item = P>,
        I::IntoIter: ExactSizeIterator,
    {
        Ok(match self {
            PgClient::Bounded(c) => RowIter::Bounded(c.query_raw(st, params)?),
            PgClient::Plain(c) => RowIter::Plain(c.query_raw(st, params)?),
        })
    }

    pub(crate) fn batch_execute(&mut self, sql: &str) -> Result<(), Error> {
        match self {
            PgClient::Bounded(c) => c.batch_execute(sql),
            PgClient::Plain(c) => c.batch_execute(sql),
        }
    }

    /// `st`, then `batch`, sent together (pipelined: one round trip) and answered in that
    /// order. Should `st` fail, `batch` still runs, after it. (The `postgres` crate's
    /// client runs them one after the other.) The outer error: the connection failed
    /// before both were answered.
    pub(crate) fn execute_then_batch(
        &mut self,
        st: &Statement,
        params: &[&(dyn ToSql + Sync)],
        batch: &str,
    ) -> Result<StatementThenBatch, Error> {
        match self {
            PgClient::Bounded(c) => c.execute_then_batch(st, params, batch),
            PgClient::Plain(c) => Ok((c.execute(st, params), c.batch_execute(batch))),
        }
    }

    /// `first`, then `second`, sent together (pipelined: one round trip) and answered in
    /// that order; `second` starts once `first` is done, with a snapshot of its own.
    /// The outer error: the connection failed before both were answered.
    pub(crate) fn query_then_query(
        &mut self,
        first: (&Statement, &[&(dyn ToSql + Sync)]),
        second: (&Statement, &[&(dyn ToSql + Sync)]),
    ) -> Result<QueryThenQuery, Error> {
        match self {
            PgClient::Bounded(c) => c.query_then_query(first, second),
            PgClient::Plain(c) => Ok((c.query(first.0, first.1), c.query(second.0, second.1))),
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        match self {
            PgClient::Bounded(c) => c.is_closed(),
            PgClient::Plain(c) => c.is_closed(),
        }
    }
}

/// Rows of [`PgClient::query_raw`].
pub(crate) enum RowIter<'a> {
    Bounded(BoundedRows<'a>),
    Plain(postgres::RowIter<'a>),
}

impl FallibleIterator for RowIter<'_> {
    type Item = Row;
    type Error = Error;

    fn next(&mut self) -> Result<Option<Row>, Error> {
        match self {
            RowIter::Bounded(rows) => rows.next(),
            RowIter::Plain(rows) => rows.next(),
        }
    }
}

/// A client over tokio-postgres, as the `postgres` crate's (it runs its own runtime), made
/// by a connect bounded as a whole.
pub(crate) struct Bounded {
    io: Io,
    /// `None` only while dropping.
    client: Option<tokio_postgres::Client>,
}

/// The client's runtime and the connection's task, which runs while a request waits.
struct Io {
    runtime: tokio::runtime::Runtime,
    driver: Driver,
    /// The driver has finished (the connection is over); it must not be polled again.
    ended: bool,
}

impl Io {
    /// Runs `f` to its end, the connection's task beside it.
    fn block_on<T>(&mut self, f: impl Future<Output = Result<T, Error>>) -> Result<T, Error> {
        let Io {
            runtime,
            driver,
            ended,
        } = self;
        let mut f = pin!(f);
        runtime.block_on(poll_fn(|cx| {
            if !*ended && let Poll::Ready(r) = driver.as_mut().poll(cx) {
                *ended = true;
                // A failed connection is the answer; a closed one fails the request itself.
                r?;
            }
            f.as_mut().poll(cx)
        }))
    }

    /// Runs `first` and `second` together, pipelined on the connection: each request is
    /// sent at its future's first poll, in the order they are polled, so both go out
    /// before the first answer is awaited, and the server answers them in that order.
    /// The outer error: the connection failed before both were answered.
    fn pipelined<A: Future, B: Future>(
        &mut self,
        first: A,
        second: B,
    ) -> Result<(A::Output, B::Output), Error> {
        let both = futures_util::future::join(first, second);
        self.block_on(async { Ok(both.await) })
    }
}

impl Bounded {
    /// Connects with `config` through `tls`, the whole of it within `limit`; `hosts` names
    /// the server in the error. The outer error is the timeout (or no runtime), the inner
    /// one the driver's.
    pub(crate) fn connect<T>(
        config: &tokio_postgres::Config,
        tls: T,
        limit: Duration,
        hosts: &str,
    ) -> Result<Result<Bounded, Error>, StoreError>
    where
        T: MakeTlsConnect<Socket> + Send + 'static,
        T::Stream: Send + 'static,
        T::TlsConnect: Send,
        <T::TlsConnect as TlsConnect<Socket>>::Future: Send + 'static,
    {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| StoreError::Open(format!("cannot start a runtime: {e}")))?;
        let stage = Arc::new(AtomicU8::new(TCP));
        let staged = Staged {
            inner: tls,
            stage: Arc::clone(&stage),
        };
        // The timer is made inside the runtime, which it needs.
        let connected =
            runtime.block_on(async { tokio::time::timeout(limit, config.connect(staged)).await });
        // Dropped on timeout, the connect's future closes its socket: nothing stays behind.
        let Ok(connected) = connected else {
            return Err(StoreError::Open(format!(
                "connecting to PostgreSQL at {hosts} timed out after {} s (connect_timeout, \
                 which bounds TCP, TLS, startup and authentication together): {}",
                limit.as_secs_f64(),
                stage_text(stage.load(Ordering::Relaxed), config)
            )));
        };
        Ok(connected.map(|(client, connection)| Bounded {
            io: Io {
                runtime,
                driver: Box::pin(connection),
                ended: false,
            },
            client: Some(client),
        }))
    }

    fn parts(&mut self) -> (&mut Io, &tokio_postgres::Client) {
        let client = self.client.as_ref().expect("present until dropped");
        (&mut self.io, client)
    }

    pub(crate) fn prepare(&mut self, sql: &str) -> Result<Statement, Error> {
        let (io, client) = self.parts();
        io.block_on(client.prepare(sql))
    }

    pub(crate) fn execute(
        &mut self,
        st: &Statement,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, Error> {
        let (io, client) = self.parts();
        io.block_on(client.execute(st, params))
    }

    pub(crate) fn query(
        &mut self,
        st: &Statement,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, Error> {
        let (io, client) = self.parts();
        io.block_on(client.query(st, params))
    }

    /// The rows of `st`, read from the server as they are taken.
    pub(crate) fn query_raw<P, I>(
        &mut self,
        st: &Statement,
        params: I,
    ) -> Result<BoundedRows<'_>, Error>
    where
        P: BorrowToSql,
        I: IntoIterator<Item = P>,
        I::IntoIter: ExactSizeIterator,
    {
        let (io, client) = self.parts();
        let rows = io.block_on(client.query_raw(st, params))?;
        Ok(BoundedRows {
            io,
            rows: Box::pin(rows),
        })
    }

    pub(crate) fn batch_execute(&mut self, sql: &str) -> Result<(), Error> {
        let (io, client) = self.parts();
        io.block_on(client.batch_execute(sql))
    }

    /// [`PgClient::execute_then_batch`], pipelined ([`Io::pipelined`]).
    pub(crate) fn execute_then_batch(
        &mut self,
        st: &Statement,
        params: &[&(dyn ToSql + Sync)],
        batch: &str,
    ) -> Result<StatementThenBatch, Error> {
        let (io, client) = self.parts();
        io.pipelined(client.execute(st, params), client.batch_execute(batch))
    }

    /// [`PgClient::query_then_query`], pipelined ([`Io::pipelined`]).
    pub(crate) fn query_then_query(
        &mut self,
        first: (&Statement, &[&(dyn ToSql + Sync)]),
        second: (&Statement, &[&(dyn ToSql + Sync)]),
    ) -> Result<QueryThenQuery, Error> {
        let (io, client) = self.parts();
        io.pipelined(
            client.query(first.0, first.1),
            client.query(second.0, second.1),
        )
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.io.ended
            || self
                .client
                .as_ref()
                .is_none_or(tokio_postgres::Client::is_closed)
    }
}

impl Drop for Bounded {
    /// Says goodbye to the server (dropping the client queues its Terminate message, which
    /// the driver writes before it ends), waiting at most a second.
    fn drop(&mut self) {
        drop(self.client.take());
        if !self.io.ended {
            let driver = &mut self.io.driver;
            let _ = self
                .io
                .runtime
                .block_on(async { tokio::time::timeout(Duration::from_secs(1), driver).await });
        }
    }
}

/// Rows of [`Bounded::query_raw`].
pub(crate) struct BoundedRows<'a> {
    io: &'a mut Io,
    rows: Pin<Box<RowStream>>,
}

impl FallibleIterator for BoundedRows<'_> {
    type Item = Row;
    type Error = Error;

    fn next(&mut self) -> Result<Option<Row>, Error> {
        let rows = &mut self.rows;
        self.io.block_on(poll_fn(|cx| {
            rows.as_mut().poll_next(cx).map(Option::transpose)
        }))
    }
}

/// How far a connect went: the TCP connection is being made, is made, the TLS handshake
/// has begun (the server accepted TLS), is done.
const TCP: u8 = 0;
const CONNECTED: u8 = 1;
const TLS: u8 = 2;
const TLS_DONE: u8 = 3;

fn stage_text(stage: u8, config: &tokio_postgres::Config) -> &'static str {
    let tls = config.get_ssl_mode() != tokio_postgres::config::SslMode::Disable;
    match stage {
        TCP => "no TCP connection was made",
        CONNECTED if tls => {
            "the server accepted the TCP connection but answered neither the TLS request \
             nor the login"
        }
        CONNECTED => {
            "the server accepted the TCP connection but did not answer the login (startup \
             and authentication)"
        }
        TLS => "the TLS handshake did not finish",
        _ => "the login (startup and authentication) did not finish after the TLS handshake",
    }
}

/// A TLS connector that notes how far the connect went, for the timeout's message.
// Why here: tokio-postgres asks for the connector right after the TCP connect, and calls it
// when the server has accepted TLS; it says nothing else about where a connect waits.
struct Staged<T> {
    inner: T,
    stage: Arc<AtomicU8>,
}

impl<T: MakeTlsConnect<Socket>> MakeTlsConnect<Socket> for Staged<T>
where
    <T::TlsConnect as TlsConnect<Socket>>::Future: Send + 'static,
{
    type Stream = T::Stream;
    type TlsConnect = Staged<T::TlsConnect>;
    type Error = T::Error;

    fn make_tls_connect(&mut self, domain: &str) -> Result<Self::TlsConnect, Self::Error> {
        self.stage.store(CONNECTED, Ordering::Relaxed);
        Ok(Staged {
            inner: self.inner.make_tls_connect(domain)?,
            stage: Arc::clone(&self.stage),
        })
    }
}

impl<T: TlsConnect<Socket>> TlsConnect<Socket> for Staged<T>
where
    T::Future: Send + 'static,
{
    type Stream = T::Stream;
    type Error = T::Error;
    type Future = Pin<Box<dyn Future<Output = Result<T::Stream, T::Error>> + Send>>;

    fn connect(self, stream: Socket) -> Self::Future {
        self.stage.store(TLS, Ordering::Relaxed);
        let handshake = self.inner.connect(stream);
        let stage = self.stage;
        Box::pin(async move {
            let r = handshake.await;
            if r.is_ok() {
                stage.store(TLS_DONE, Ordering::Relaxed);
            }
            r
        })
    }
}
