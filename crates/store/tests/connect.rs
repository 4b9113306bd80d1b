//! `connect_timeout` bounds a whole connection to PostgreSQL (TCP, TLS, startup and
//! authentication): a server that accepts and then stalls fails the open, with the host
//! and what timed out, instead of holding it forever. No PostgreSQL needed: the "server"
//! is a loopback listener.

use comptoir_store::{DbUrl, Store};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// What the listener does with each connection before it goes silent.
#[derive(Clone, Copy)]
enum Stall {
    /// Reads nothing, writes nothing.
    AtOnce,
    /// Answers the TLS request (8 bytes) with `S`, as a server that accepts TLS.
    AfterAcceptingTls,
}

/// A listener on a loopback port that accepts connections and holds them open, silent.
fn stalling_server(stall: Stall) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held: Vec<TcpStream> = Vec::new();
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            if let Stall::AfterAcceptingTls = stall {
                let mut request = [0u8; 8];
                if conn.read_exact(&mut request).is_ok() {
                    let _ = conn.write_all(b"S");
                }
            }
            held.push(conn);
        }
    });
    port
}

/// Opens a store on `url`; its error and how long it took. An open still waiting after
/// 10 s fails the test (it is left behind on its thread).
fn open_error(url: &str) -> (String, Duration) {
    let started = Instant::now();
    let (tx, rx) = std::sync::mpsc::channel();
    let target = DbUrl::Postgres(url.to_string());
    std::thread::spawn(move || {
        let outcome = Store::open_blocking(&target).map(drop);
        let _ = tx.send(outcome);
    });
    let outcome = rx
        .recv_timeout(Duration::from_secs(10))
        .unwrap_or_else(|_| panic!("{url}: still connecting after 10 s"));
    let took = started.elapsed();
    match outcome {
        Ok(()) => panic!("{url}: opened a store on a server that never answers"),
        Err(e) => (e.to_string(), took),
    }
}

fn assert_timed_out(url: &str, port: u16, what: &str) {
    let (e, took) = open_error(url);
    assert!(
        took < Duration::from_millis(2500),
        "{url}: gave up after {took:?}, connect_timeout=1: {e}"
    );
    assert!(
        took >= Duration::from_millis(900),
        "{url}: gave up after {took:?}, before connect_timeout=1: {e}"
    );
    assert!(
        e.contains(&format!(
            "connecting to PostgreSQL at 127.0.0.1:{port} timed out after 1 s (connect_timeout"
        )),
        "{url}: {e}"
    );
    assert!(e.contains(what), "{url}: expected {what:?} in: {e}");
    eprintln!("{e}");
}

#[test]
fn a_server_that_accepts_and_never_answers_fails_the_open_within_connect_timeout() {
    let port = stalling_server(Stall::AtOnce);
    assert_timed_out(
        &format!("postgres://comptoir@127.0.0.1:{port}/db?connect_timeout=1"),
        port,
        "the server accepted the TCP connection but did not answer the login",
    );
    assert_timed_out(
        &format!("postgres://comptoir@127.0.0.1:{port}/db?connect_timeout=1&sslmode=require"),
        port,
        "answered neither the TLS request nor the login",
    );
}

#[test]
fn a_server_that_accepts_tls_and_then_stalls_fails_the_open_within_connect_timeout() {
    let port = stalling_server(Stall::AfterAcceptingTls);
    assert_timed_out(
        &format!("postgres://comptoir@127.0.0.1:{port}/db?sslmode=require&connect_timeout=1"),
        port,
        "the TLS handshake did not finish",
    );
}
