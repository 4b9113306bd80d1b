//! Automatic closings inside `comptoir serve` (issue #11): a task that, at start, catches up
//! every shop's days not yet closed (the days the server was down for), in order, then
//! closes each day at the shop's closing hour, followed by its month and fiscal year once
//! their last day has closed. Each closing is one short write through the store, as the
//! CLI's, so sales wait at most for one closing. The rule (what is due, when) is
//! core::closing::settings's; the clock is injectable so tests can drive it.

use crate::AppState;
use comptoir_core::fiscal_key::FiscalKey;
use comptoir_store::Store;
use comptoir_store::closings::{self, Closed};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// What time it is, for the automatic closing.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> jiff::Timestamp;
}

/// The system's clock.
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> jiff::Timestamp {
        jiff::Timestamp::now()
    }
}

/// Where the fiscal signing key comes from.
#[derive(Clone)]
pub enum KeySource {
    /// A key file (store::fiscal_key), read — or created — the first time a closing is due,
    /// so a server that never closes anything never creates one.
    File(PathBuf),
    /// A key already loaded (tests).
    Key(Arc<FiscalKey>),
}

/// How the automatic closing runs.
#[derive(Clone)]
pub struct Settings {
    /// `None`: no automatic closing (the CLI's `close` still works).
    pub key: Option<KeySource>,
    pub clock: Arc<dyn Clock>,
    /// The longest wait between two looks at the shops (a first sale, a new shop, a
    /// setting changed, a clock set forward in tests).
    pub poll: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            key: None,
            clock: Arc::new(SystemClock),
            poll: Duration::from_secs(60),
        }
    }
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let key = match &self.key {
            None => "off".to_string(),
            Some(KeySource::File(p)) => p.display().to_string(),
            Some(KeySource::Key(k)) => format!("{k:?}"),
        };
        f.debug_struct("Settings")
            .field("key", &key)
            .field("poll", &self.poll)
            .finish_non_exhaustive()
    }
}

/// The running task; [`Closer::stop`] ends it between two closings.
pub struct Closer {
    stop: Arc<Notify>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Closer {
    /// Starts the task when the settings name a key; otherwise does nothing.
    pub fn start(state: &AppState) -> Closer {
        let stop = Arc::new(Notify::new());
        let settings = state.config.closings.clone();
        let task = settings.key.clone().map(|key| {
            let run = Run {
                store: state.store.clone(),
                webhooks: state.webhooks.clone(),
                clock: settings.clock.clone(),
                poll: settings.poll,
                source: key,
                key: None,
            };
            tokio::spawn(run.run(stop.clone()))
        });
        Closer { stop, task }
    }

    pub async fn stop(mut self) {
        self.stop.notify_one();
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

struct Run {
    store: Store,
    webhooks: crate::webhooks::Webhooks,
    clock: Arc<dyn Clock>,
    poll: Duration,
    source: KeySource,
    key: Option<Arc<FiscalKey>>,
}

impl Run {
    async fn run(mut self, stop: Arc<Notify>) {
        loop {
            let wake = self.round().await;
            let now = self.clock.now();
            let wait = wake
                .map(|w| w.duration_since(now))
                .and_then(|d| Duration::try_from(d).ok())
                .map_or(self.poll, |d| d.min(self.poll));
            tokio::select! {
                () = stop.notified() => return,
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Closes what is due in every shop, oldest first; returns when the next day closes.
    async fn round(&mut self) -> Option<jiff::Timestamp> {
        let shops = match self.store.read(comptoir_store::shops::list_shops).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "automatic closing: cannot list the shops");
                return None;
            }
        };
        let mut wake: Option<jiff::Timestamp> = None;
        for shop in shops.iter().map(|s| s.id) {
            self.catch_up(shop).await;
            match self
                .store
                .read(move |c| closings::periods::next_closing(c, shop))
                .await
            {
                Ok(Some(t)) => wake = Some(wake.map_or(t, |w| w.min(t))),
                Ok(None) => {}
                Err(e) => tracing::warn!(shop_id = shop, error = %e, "automatic closing"),
            }
        }
        wake
    }

    /// Closes the shop's due closings one write at a time, until none is due.
    async fn catch_up(&mut self, shop: i64) {
        let mut already = None;
        loop {
            let now = self.clock.now();
            let due = self
                .store
                .read(move |c| closings::periods::due(c, shop, now))
                .await;
            let period = match due {
                Ok(Some(p)) => p,
                Ok(None) => return,
                Err(e) => {
                    tracing::warn!(shop_id = shop, error = %e, "automatic closing");
                    return;
                }
            };
            let Some(key) = self.key() else { return };
            let closed = self
                .store
                .write(move |c| closings::close(c, shop, &period, &key, now))
                .await;
            match closed {
                Ok(Closed::New(r)) => {
                    tracing::info!(
                        shop_id = shop, period = %r.period, day = %r.day, number = r.number,
                        "closed"
                    );
                    self.webhooks.wake();
                }
                // Closed meanwhile by someone else (the CLI): look again, but only once
                // for the same period, so that rows the rule misreads cannot spin here.
                Ok(Closed::Already(_)) if already == Some(period) => {
                    tracing::warn!(shop_id = shop, period = %period.label(), "automatic closing: due but already closed");
                    return;
                }
                Ok(Closed::Already(_)) => already = Some(period),
                Err(e) => {
                    tracing::warn!(shop_id = shop, error = %e, "automatic closing failed");
                    return;
                }
            }
        }
    }

    /// The signing key, read (or created) the first time it is needed.
    fn key(&mut self) -> Option<Arc<FiscalKey>> {
        if self.key.is_none() {
            self.key = match &self.source {
                KeySource::Key(k) => Some(k.clone()),
                KeySource::File(path) => match comptoir_store::fiscal_key::load_or_create(path) {
                    Ok((k, created)) => {
                        if created {
                            tracing::info!(path = %path.display(), "created the fiscal signing key");
                        }
                        Some(Arc::new(k))
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "automatic closing: no fiscal key");
                        None
                    }
                },
            };
        }
        self.key.clone()
    }
}
