//! The receivers of docs/webhooks.md, run for real: Node.js with the npm
//! `standardwebhooks` package, Python with the PyPI one, PHP with `hash_hmac` alone
//! (tests/receivers). Each verifies both events of a sale in both formats, a call signed
//! during a secret rotation, and refuses a forged call. Skipped (failed under
//! `COMPTOIR_TEST_STRICT=1`) when the program or package is missing.

use comptoir_core::model::Licence;
use comptoir_core::webhook::signature::Secret;
use comptoir_store::webhooks;
use comptoir_testkit::{TestApp, TestDb, import_demo, item_and_payment_method, require};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn receivers_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/receivers")
}

fn runs(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .current_dir(receivers_dir())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A receiver process and the lines it printed.
struct Running {
    child: Child,
    port: u16,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(kind: &str, secret: &str) -> Running {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let p = port.to_string();
    let mut cmd = match kind {
        "node" => {
            let mut c = Command::new("node");
            c.args(["receiver.mjs", &p]);
            c
        }
        "python" => {
            let mut c = Command::new("python3");
            c.args(["receiver.py", &p]);
            c
        }
        _ => {
            let mut c = Command::new("php");
            c.args(["-S", &format!("127.0.0.1:{p}"), "receiver.php"]);
            c
        }
    };
    let mut child = cmd
        .current_dir(receivers_dir())
        .env("WEBHOOK_SECRET", secret)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("start the {kind} receiver: {e}"));
    let lines: Arc<Mutex<Vec<String>>> = Arc::default();
    let out = child.stdout.take().unwrap();
    let l = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            l.lock().unwrap().push(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(15);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "the {kind} receiver did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Running { child, port, lines }
}

/// The receivers present on this machine.
fn available() -> Vec<&'static str> {
    let mut kinds = Vec::new();
    let node = runs("node", &["-e", "import('standardwebhooks').then(()=>0)"])
        && receivers_dir()
            .join("node_modules/standardwebhooks")
            .exists();
    if require(
        node,
        "node with the npm package standardwebhooks (npm ci in tests/receivers)",
    ) {
        kinds.push("node");
    }
    if require(
        runs("python3", &["-c", "import standardwebhooks"]),
        "python3 with the PyPI package standardwebhooks",
    ) {
        kinds.push("python");
    }
    if require(
        runs(
            "php",
            &["-r", "exit(function_exists('hash_hmac') ? 0 : 1);"],
        ),
        "php-cli",
    ) {
        kinds.push("php");
    }
    kinds
}

async fn wait_lines(r: &Running, n: usize, what: &str) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let lines = r.lines.lock().unwrap().clone();
        let verified: Vec<String> = lines
            .into_iter()
            .filter(|l| l.starts_with("verified "))
            .collect();
        if verified.len() >= n {
            return verified;
        }
        assert!(Instant::now() < deadline, "{what}: {verified:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_documented_receivers_verify_real_calls() {
    let kinds = available();
    if kinds.is_empty() {
        return;
    }
    for db in TestDb::all() {
        let app = TestApp::spawn(&db).await;
        for kind in &kinds {
            let old = Secret::from_bytes(comptoir_store::random_bytes());
            let r = start(kind, &old.to_text());
            let created = app
                .create_shop(&format!("{kind} receiver"), Licence::Extended)
                .await;
            let id = created.shop_id;
            import_demo(&app.store, id).await;
            let (item, method) = item_and_payment_method(&app.store, id).await;
            let sell = || {
                let (item, method, key) = (
                    item.to_string(),
                    method.to_string(),
                    created.api_key.clone(),
                );
                let app = &app;
                async move {
                    let shop = id.to_string();
                    let res = app
                        .post_form(
                            "/workers/webapp.php",
                            &[
                                ("idboutique", &shop),
                                ("key", &key),
                                ("itemsList[]", &item),
                                ("payment", &method),
                                ("client[nom]", "Élise & Co"),
                            ],
                        )
                        .await;
                    assert_eq!(res.status(), 200);
                }
            };
            let url = format!("http://127.0.0.1:{}/hook", r.port);
            let mut expected = 0;
            for format in ["form", "json"] {
                let (u, f, s) = (url.clone(), format.to_string(), old.to_text());
                app.store
                    .write(move |c| {
                        webhooks::set_endpoint(c, id, &u, &f, &s, comptoir_store::now_micros())
                    })
                    .await
                    .unwrap();
                sell().await;
                expected += 2;
                let lines =
                    wait_lines(&r, expected, &format!("{} {kind} {format}", db.backend)).await;
                assert!(lines[expected - 2].contains(" validated "), "{lines:?}");
                assert!(lines[expected - 1].contains(" terminated "), "{lines:?}");
            }
            // A rotation: the receiver still knows the old secret, which signs beside the new.
            let new = Secret::from_bytes(comptoir_store::random_bytes()).to_text();
            let until = comptoir_store::now_micros() + 3_600_000_000;
            app.store
                .write(move |c| {
                    webhooks::rotate_secret(c, id, &new, until, comptoir_store::now_micros())
                })
                .await
                .unwrap();
            sell().await;
            wait_lines(
                &r,
                expected + 2,
                &format!("{} {kind} during a rotation", db.backend),
            )
            .await;
            // A forged call is refused.
            let ts = jiff::Timestamp::now().as_second().to_string();
            let forged = app
                .http
                .post(&url)
                .header("content-type", "application/x-www-form-urlencoded")
                .header("webhook-id", "1-1")
                .header("webhook-timestamp", &ts)
                .header(
                    "webhook-signature",
                    old.sign("1-1", ts.parse().unwrap(), b"type=other"),
                )
                .body("type=validated")
                .send()
                .await
                .unwrap();
            assert_eq!(forged.status(), 401, "{} {kind}: a forged call", db.backend);
            let stale_ts = jiff::Timestamp::now().as_second() - 600;
            let stale = app
                .http
                .post(&url)
                .header("content-type", "application/x-www-form-urlencoded")
                .header("webhook-id", "1-1")
                .header("webhook-timestamp", stale_ts.to_string())
                .header(
                    "webhook-signature",
                    old.sign("1-1", stale_ts, b"type=validated"),
                )
                .body("type=validated")
                .send()
                .await
                .unwrap();
            assert_eq!(
                stale.status(),
                401,
                "{} {kind}: a call older than 5 minutes",
                db.backend
            );
        }
        app.stop().await;
    }
}

#[test]
fn the_docs_show_the_receivers_the_suite_runs() {
    let docs = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/webhooks.md"),
    )
    .unwrap();
    for file in ["receiver.mjs", "receiver.py", "receiver.php"] {
        let text = std::fs::read_to_string(receivers_dir().join(file)).unwrap();
        assert!(
            docs.contains(text.trim_end()),
            "docs/webhooks.md does not show tests/receivers/{file} as it is"
        );
    }
}
