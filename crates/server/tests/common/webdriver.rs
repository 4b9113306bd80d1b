//! A small WebDriver client (the W3C protocol over HTTP+JSON, with reqwest) driving
//! Debian's chromedriver and headless Chromium: enough for the back-office tests, without
//! a browser-automation crate and its dependency tree.

use base64::Engine;
use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The W3C key of element references.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A chromedriver process and one browser session; both end on drop.
pub(crate) struct Browser {
    driver: Child,
    http: reqwest::Client,
    base: String,
    profile: std::path::PathBuf,
    /// Chromium's process, ended on drop too (a failed test does not call `quit`).
    chromium_pid: Option<u32>,
}

/// The chromedriver program, if installed.
fn chromedriver() -> Option<&'static str> {
    ["chromedriver", "/usr/bin/chromedriver"]
        .into_iter()
        .find(|p| Command::new(p).arg("--version").output().is_ok())
}

impl Browser {
    /// Starts chromedriver on a free port and a headless Chromium with a fresh profile;
    /// `None` (skipped, or a failure under COMPTOIR_TEST_STRICT=1) when either is missing.
    pub(crate) async fn start(width: u32, height: u32) -> Option<Browser> {
        // chromedriver wants the browser's full path.
        let chromium = std::env::var_os("PATH").and_then(|path| {
            std::env::split_paths(&path)
                .map(|d| d.join("chromium"))
                .find(|p| p.is_file())
                .map(|p| p.display().to_string())
        });
        let driver = chromedriver();
        if !comptoir_testkit::require(
            chromium.is_some() && driver.is_some(),
            "chromium and chromium-driver (Debian packages)",
        ) {
            return None;
        }
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
            l.local_addr().expect("port").port()
        };
        let child = Command::new(driver?)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let profile = std::env::temp_dir().join(format!(
            "comptoir-chromium-{}",
            comptoir_store::hex(&comptoir_store::random_bytes::<6>())
        ));
        let mut b = Browser {
            driver: child,
            http: reqwest::Client::new(),
            base: format!("http://127.0.0.1:{port}"),
            profile,
            chromium_pid: None,
        };
        for _ in 0..100 {
            if b.http
                .get(format!("{}/status", b.base))
                .send()
                .await
                .is_ok()
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let args = vec![
            "--headless=new".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-dev-shm-usage".into(),
            "--hide-scrollbars".into(),
            format!("--window-size={width},{height}"),
            format!("--user-data-dir={}", b.profile.display()),
        ];
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium?, "args": args}
        }}});
        let res = b.raw("POST", "/session", caps).await;
        let id = res["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {res}"))
            .to_string();
        b.chromium_pid = res["value"]["capabilities"]["goog:processID"]
            .as_u64()
            .and_then(|p| u32::try_from(p).ok());
        b.base = format!("{}/session/{id}", b.base);
        b.set_size(width, height).await;
        Some(b)
    }

    async fn raw(&self, method: &str, path: &str, body: Value) -> Value {
        let url = format!("{}{path}", self.base);
        let req = match method {
            "GET" => self.http.get(url),
            "DELETE" => self.http.delete(url),
            _ => self.http.post(url).json(&body),
        };
        let res = req.send().await.expect("webdriver request");
        res.json().await.expect("webdriver JSON")
    }

    /// Ends the browser session (Chromium exits), then chromedriver.
    pub(crate) async fn quit(self) {
        let _ = self.http.delete(&self.base).send().await;
    }

    /// A command of the session; panics on a WebDriver error.
    async fn cmd(&self, method: &str, path: &str, body: Value) -> Value {
        let v = self.raw(method, path, body).await;
        if let Some(e) = v["value"]["error"].as_str() {
            panic!("webdriver {method} {path}: {e}: {}", v["value"]["message"]);
        }
        v["value"].clone()
    }

    pub(crate) async fn set_size(&self, width: u32, height: u32) {
        self.cmd(
            "POST",
            "/window/rect",
            json!({"width": width, "height": height}),
        )
        .await;
    }

    pub(crate) async fn goto(&self, url: &str) {
        self.cmd("POST", "/url", json!({"url": url})).await;
    }

    /// The element matching `css`; panics when there is none.
    pub(crate) async fn find(&self, css: &str) -> String {
        let v = self
            .cmd(
                "POST",
                "/element",
                json!({"using": "css selector", "value": css}),
            )
            .await;
        v[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {v}"))
            .to_string()
    }

    /// How many elements match `css`.
    pub(crate) async fn count(&self, css: &str) -> usize {
        let v = self
            .cmd(
                "POST",
                "/elements",
                json!({"using": "css selector", "value": css}),
            )
            .await;
        v.as_array().map_or(0, Vec::len)
    }

    pub(crate) async fn click(&self, css: &str) {
        let id = self.find(css).await;
        self.cmd("POST", &format!("/element/{id}/click"), json!({}))
            .await;
    }

    /// Clicks what loads a new page (a submit button, a live list) and waits for it.
    pub(crate) async fn click_nav(&self, css: &str) {
        self.mark().await;
        self.click(css).await;
        self.wait_new_page().await;
    }

    /// Marks the current page, to know when another one has replaced it.
    pub(crate) async fn mark(&self) {
        self.exec("window.comptoirOldPage = true;", json!([])).await;
    }

    /// Waits until a page without the mark has loaded.
    pub(crate) async fn wait_new_page(&self) {
        self.wait_for("return !window.comptoirOldPage && document.readyState === 'complete';")
            .await;
    }

    pub(crate) async fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css).await;
        self.cmd("POST", &format!("/element/{id}/clear"), json!({}))
            .await;
        self.cmd(
            "POST",
            &format!("/element/{id}/value"),
            json!({"text": text}),
        )
        .await;
    }

    /// The visible text of the element matching `css`.
    pub(crate) async fn text(&self, css: &str) -> String {
        let id = self.find(css).await;
        self.cmd("GET", &format!("/element/{id}/text"), Value::Null)
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Runs `script` (a function body) with `args`; its return value.
    pub(crate) async fn exec(&self, script: &str, args: Value) -> Value {
        self.cmd(
            "POST",
            "/execute/sync",
            json!({"script": script, "args": args}),
        )
        .await
    }

    /// Accepts the open `confirm` dialog.
    pub(crate) async fn accept_dialog(&self) {
        self.cmd("POST", "/alert/accept", json!({})).await;
    }

    pub(crate) async fn delete_cookies(&self) {
        self.cmd("DELETE", "/cookie", Value::Null).await;
    }

    /// The page's `<html>` content.
    pub(crate) async fn source(&self) -> String {
        self.cmd("GET", "/source", Value::Null)
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// A PNG of the whole viewport.
    pub(crate) async fn screenshot(&self) -> Vec<u8> {
        let b64 = self.cmd("GET", "/screenshot", Value::Null).await;
        base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().expect("base64"))
            .expect("PNG")
    }

    /// Waits until `script` returns true (at most 10 s).
    pub(crate) async fn wait_for(&self, script: &str) {
        for _ in 0..100 {
            // While a page is loading, a script may fail: try again.
            let v = self
                .raw(
                    "POST",
                    "/execute/sync",
                    json!({"script": script, "args": []}),
                )
                .await;
            if v["value"] == Value::Bool(true) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("timed out waiting for {script}");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(pid) = self.chromium_pid {
            let _ = Command::new("kill").arg(pid.to_string()).status();
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}
