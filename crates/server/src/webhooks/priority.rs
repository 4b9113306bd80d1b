//! Delivery runs below the sales: its own tokio runtime (the worker, its attempts, the HTTP
//! client's connections and the blocking threads its store reads use) whose threads the
//! OS schedules at a higher nice value. While sales keep every core busy the scheduler
//! gives them the CPU and delivery a small share; when they leave room, delivery takes it
//! (a nice value only matters while threads compete for a core).

use tokio::runtime::Runtime;

/// The name of the delivery runtime's threads (Linux keeps 15 bytes of a thread's name).
pub const THREAD_NAME: &str = "comptoir-wh";

/// The highest nice value Linux has.
const MAX_NICE: i32 = 19;

/// A runtime for delivery whose threads run `nice` steps below the thread that builds it
/// (0: at the same priority). The nice value is set on each thread as it starts, so the
/// threads tokio adds later for blocking work (store reads, DNS) get it too.
pub fn runtime(nice: u8) -> std::io::Result<Runtime> {
    let target = (current() + i32::from(nice)).min(MAX_NICE);
    tokio::runtime::Builder::new_multi_thread()
        .thread_name(THREAD_NAME)
        .enable_all()
        .on_thread_start(move || {
            if let Err(e) = set_current(target) {
                // Delivery still works, beside the sales rather than below them.
                tracing::warn!(error = %e, nice = target, "webhooks: cannot lower priority");
            }
        })
        .build()
}

/// The calling thread's nice value (0 where threads have none, or if it cannot be read).
#[cfg(target_os = "linux")]
pub fn current() -> i32 {
    rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap_or(0)
}

#[cfg(not(target_os = "linux"))]
pub fn current() -> i32 {
    0
}

/// Sets the calling thread's nice value: on Linux `PRIO_PROCESS` with a thread id applies
/// to that thread alone. Raising it needs no privilege.
#[cfg(target_os = "linux")]
fn set_current(nice: i32) -> std::io::Result<()> {
    rustix::process::setpriority_process(Some(rustix::thread::gettid()), nice)
        .map_err(std::io::Error::from)
}

/// Elsewhere the threads run at the process's priority.
#[cfg(not(target_os = "linux"))]
fn set_current(_nice: i32) -> std::io::Result<()> {
    Ok(())
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn the_runtime_threads_and_its_blocking_threads_run_lower() {
        let base = std::thread::spawn(current).join().unwrap();
        let rt = runtime(7).unwrap();
        let (worker, blocking) = rt.block_on(async {
            let worker = tokio::spawn(async { current() }).await.unwrap();
            let blocking = tokio::task::spawn_blocking(current).await.unwrap();
            (worker, blocking)
        });
        let want = (base + 7).min(MAX_NICE);
        assert_eq!((worker, blocking), (want, want));
        // The thread that built it is left as it was.
        assert_eq!(current(), base);
        rt.shutdown_background();
    }
}
