//! Streaming a download: a blocking thread reads pages of rows (a pooled connection per
//! page, never held while a slow client reads), writes them into chunks, and sends them
//! through a short channel to the response body, so memory does not grow with the rows.
//! A download read in one transaction (the daily report) keeps the chunks a slow client
//! has not taken yet in a temporary file past [`SPILL_AFTER`], until the connection is
//! back in the pool.

use crate::error::{AppError, AppResult};
use axum::body::{Body, Bytes};
use comptoir_store::StoreError;
use comptoir_store::lists::Page;
use std::collections::VecDeque;
use std::io::{Read, Seek, SeekFrom, Write};
use tokio::sync::mpsc;

/// Bytes gathered before a chunk goes to the socket.
pub(super) const CHUNK: usize = 64 * 1024;
/// Chunks in flight between the database thread and the socket.
const CHANNEL_DEPTH: usize = 4;
/// Bytes of chunks kept in memory while a connection is held and the channel is full;
/// later ones go to a temporary file.
const SPILL_AFTER: usize = 16 * CHUNK;

/// The temporary file of waiting chunks could not be written or read.
fn spill_failed(e: std::io::Error) -> Stop {
    Stop::Failed(StoreError::Task(format!("download buffer file: {e}")))
}

/// What the reader thread sends to the response body.
#[derive(Debug)]
enum Message {
    Chunk(Bytes),
    /// The closing bytes: the body ends right after them, without waiting for the thread
    /// to let go of the channel (hyper then writes them with the chunked terminator in one
    /// go, instead of a lone terminator that Nagle holds until the client's delayed ACK).
    Last(Bytes),
    Failed(StoreError),
}

/// Why the reader stopped early.
pub(super) enum Stop {
    /// The response was dropped (the client went away): stop quietly.
    Gone,
    Failed(StoreError),
}

/// The chunks of one download on their way to the socket, and the one being written.
pub(super) struct Chunks<'a> {
    tx: &'a mpsc::Sender<Message>,
    /// Chunks that did not fit in the channel while a connection was held; sent, waiting
    /// if need be, once the page is read and the connection is back in the pool.
    waiting: VecDeque<Message>,
    /// The bytes of the chunks in `waiting`.
    waiting_bytes: usize,
    /// Chunks that came after `waiting` filled up, in a temporary file (deleted when
    /// closed), sent after `waiting`.
    spill: Option<std::fs::File>,
    sent_any: bool,
    gone: bool,
    /// The chunk being written: rows go here.
    pub(super) out: Vec<u8>,
}

impl Chunks<'_> {
    /// Sends without waiting, keeping the message for later if the channel is full.
    fn offer(&mut self, message: Message) -> Result<(), Stop> {
        if let Some(file) = &mut self.spill {
            return match message {
                Message::Chunk(bytes) => file.write_all(&bytes).map_err(spill_failed),
                // The closing messages come when no connection is held any more.
                other => {
                    self.flush()?;
                    self.offer(other)
                }
            };
        }
        self.pump()?;
        if !self.waiting.is_empty() {
            return self.wait(message);
        }
        match self.tx.try_send(message) {
            Ok(()) => {
                self.sent_any = true;
                Ok(())
            }
            Err(mpsc::error::TrySendError::Full(message)) => self.wait(message),
            Err(mpsc::error::TrySendError::Closed(_)) => Err(Stop::Gone),
        }
    }

    /// Sends waiting messages while the channel has room, without waiting.
    fn pump(&mut self) -> Result<(), Stop> {
        while let Some(message) = self.waiting.pop_front() {
            let len = match &message {
                Message::Chunk(b) => b.len(),
                _ => 0,
            };
            match self.tx.try_send(message) {
                Ok(()) => {
                    self.sent_any = true;
                    self.waiting_bytes -= len;
                }
                Err(mpsc::error::TrySendError::Full(message)) => {
                    self.waiting.push_front(message);
                    break;
                }
                Err(mpsc::error::TrySendError::Closed(_)) => return Err(Stop::Gone),
            }
        }
        Ok(())
    }

    /// Keeps a message for [`Chunks::flush`]: in memory, or past [`SPILL_AFTER`] in a
    /// temporary file.
    fn wait(&mut self, message: Message) -> Result<(), Stop> {
        if let Message::Chunk(bytes) = &message
            && self.waiting_bytes >= SPILL_AFTER
        {
            let mut file = tempfile::tempfile().map_err(spill_failed)?;
            file.write_all(bytes).map_err(spill_failed)?;
            self.spill = Some(file);
            return Ok(());
        }
        if let Message::Chunk(bytes) = &message {
            self.waiting_bytes += bytes.len();
        }
        self.waiting.push_back(message);
        Ok(())
    }

    /// Sends every waiting message, then what went to the temporary file, waiting for
    /// room in the channel.
    fn flush(&mut self) -> Result<(), Stop> {
        for message in self.waiting.drain(..) {
            self.tx.blocking_send(message).map_err(|_| Stop::Gone)?;
            self.sent_any = true;
        }
        self.waiting_bytes = 0;
        if let Some(mut file) = self.spill.take() {
            file.seek(SeekFrom::Start(0)).map_err(spill_failed)?;
            loop {
                let mut chunk = Vec::with_capacity(CHUNK);
                let read = (&mut file)
                    .take(CHUNK as u64)
                    .read_to_end(&mut chunk)
                    .map_err(spill_failed)?;
                if read == 0 {
                    break;
                }
                self.tx
                    .blocking_send(Message::Chunk(Bytes::from(chunk)))
                    .map_err(|_| Stop::Gone)?;
                self.sent_any = true;
            }
        }
        Ok(())
    }

    /// Why `produce` stopped on `e`: the client went away, or `e`.
    pub(super) fn stop(&self, e: StoreError) -> Stop {
        if self.gone {
            Stop::Gone
        } else {
            Stop::Failed(e)
        }
    }

    /// Call after each row written into `out` (a connection is held): a full chunk is
    /// offered without waiting. An error stops the page's query.
    pub(super) fn row_done(&mut self) -> Result<(), StoreError> {
        if self.out.len() >= CHUNK {
            let chunk = Bytes::from(std::mem::replace(
                &mut self.out,
                Vec::with_capacity(CHUNK + 4096),
            ));
            match self.offer(Message::Chunk(chunk)) {
                Ok(()) => {}
                Err(Stop::Gone) => {
                    self.gone = true;
                    return Err(StoreError::Task("the client went away".into()));
                }
                Err(Stop::Failed(e)) => return Err(e),
            }
        }
        Ok(())
    }

    /// Sends the chunks that waited while a connection was held; call between pages, with
    /// no connection held (for callers that page on a cursor of their own).
    pub(super) fn between_pages(&mut self) -> Result<(), Stop> {
        self.flush()
    }

    /// Reads pages of `limit` rows: `page(after, self)` reads the rows above `after` (on a
    /// connection of its own) and gives what it read. Between pages, with the connection
    /// back in the pool, the waiting chunks are sent.
    pub(super) fn pages(
        &mut self,
        limit: usize,
        mut page: impl FnMut(i64, &mut Self) -> Result<Page, StoreError>,
    ) -> Result<(), Stop> {
        let mut after = 0;
        loop {
            let read = match page(after, self) {
                Ok(p) => p,
                Err(_) if self.gone => return Err(Stop::Gone),
                Err(e) => return Err(Stop::Failed(e)),
            };
            self.flush()?;
            match read.next_after(limit) {
                Some(id) => after = id,
                None => return Ok(()),
            }
        }
    }
}

/// Starts `produce` on a blocking thread and answers with the bytes it writes as they
/// come: `produce` writes rows into `chunks.out` (page by page, [`Chunks::pages`]), and
/// what it leaves there is the last chunk. An error before the first chunk is a normal
/// error answer; after it, the body is cut (no terminating chunk), so a client never
/// takes a truncated download for a whole one.
pub(super) async fn stream(
    what: &'static str,
    produce: impl FnOnce(&mut Chunks<'_>) -> Result<(), Stop> + Send + 'static,
) -> AppResult<Body> {
    let (tx, mut rx) = mpsc::channel::<Message>(CHANNEL_DEPTH);
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || {
        let _entered = span.enter();
        let mut chunks = Chunks {
            tx: &tx,
            waiting: VecDeque::new(),
            waiting_bytes: 0,
            spill: None,
            sent_any: false,
            gone: false,
            out: Vec::with_capacity(CHUNK + 4096),
        };
        let result = produce(&mut chunks).and_then(|()| {
            let last = Bytes::from(std::mem::take(&mut chunks.out));
            chunks.offer(Message::Last(last))?;
            chunks.flush()
        });
        match result {
            Ok(()) | Err(Stop::Gone) => {}
            Err(Stop::Failed(e)) => {
                if chunks.sent_any {
                    tracing::error!(error = %e, download = what, "download cut by a database error");
                }
                // Before the first chunk the handler answers with the error (and logs it).
                let _ = chunks.offer(Message::Failed(e));
                let _ = chunks.flush();
            }
        }
    });
    let first = match rx.recv().await {
        // A download that fits in one chunk is answered whole, with its length.
        Some(Message::Last(bytes)) => return Ok(Body::from(bytes)),
        Some(Message::Chunk(bytes)) => bytes,
        Some(Message::Failed(e)) => return Err(e.into()),
        None => {
            return Err(AppError::Internal(
                "the download reader stopped early".into(),
            ));
        }
    };
    let rest = futures_util::stream::unfold(Some(rx), |rx| async move {
        let mut rx = rx?;
        let cut = || std::io::Error::other("download cut short");
        match rx.recv().await {
            Some(Message::Chunk(bytes)) => Some((Ok(bytes), Some(rx))),
            Some(Message::Last(bytes)) => Some((Ok(bytes), None)),
            // A reader that failed or vanished (a panic) ends the body with an error.
            Some(Message::Failed(_)) | None => Some((Err(cut()), None)),
        }
    });
    let stream = futures_util::StreamExt::chain(
        futures_util::stream::once(std::future::ready(Ok(first))),
        rest,
    );
    Ok(Body::from_stream(stream))
}
