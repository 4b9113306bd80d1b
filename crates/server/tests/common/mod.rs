//! Helpers shared by the back-office test files: a cookie-keeping client, users with a
//! known password.
// Each test file uses a different subset of these helpers.
#![allow(dead_code)]

use comptoir_core::model::Role;
use comptoir_store::{shops, users};
use comptoir_testkit::{TestApp, encode_form};
use std::collections::BTreeMap;

pub(crate) mod receiver;
pub(crate) mod webdriver;

pub(crate) const PASSWORD: &str = "correct horse battery";

/// A browser-like client: keeps the cookies the server sets.
pub(crate) struct Client<'a> {
    pub(crate) app: &'a TestApp,
    pub(crate) cookies: BTreeMap<String, String>,
    pub(crate) accept_language: &'static str,
}

/// An answer: status, headers, body.
pub(crate) struct Page {
    pub(crate) status: u16,
    pub(crate) headers: reqwest::header::HeaderMap,
    pub(crate) body: String,
}

impl Page {
    /// The CSRF token printed in the page's first form.
    pub(crate) fn csrf(&self) -> String {
        let at = self
            .body
            .find(r#"name="csrf" value=""#)
            .unwrap_or_else(|| panic!("no csrf field in {}", self.body));
        let rest = &self.body[at + r#"name="csrf" value=""#.len()..];
        rest[..rest.find('"').expect("end of value")].to_string()
    }

    pub(crate) fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().expect("ascii").to_string())
            .collect()
    }

    pub(crate) fn location(&self) -> &str {
        self.headers
            .get("location")
            .map_or("", |v| v.to_str().expect("ascii"))
    }
}

impl<'a> Client<'a> {
    pub(crate) fn new(app: &'a TestApp) -> Client<'a> {
        Client {
            app,
            cookies: BTreeMap::new(),
            accept_language: "en",
        }
    }

    pub(crate) fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub(crate) async fn finish(&mut self, res: reqwest::Response) -> Page {
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        for v in headers.get_all("set-cookie") {
            let v = v.to_str().expect("ascii");
            let (kv, attrs) = v.split_once(';').unwrap_or((v, ""));
            let (k, val) = kv.split_once('=').expect("name=value");
            if attrs.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_string(), val.to_string());
            }
        }
        let body = res.text().await.expect("body");
        Page {
            status,
            headers,
            body,
        }
    }

    pub(crate) async fn get(&mut self, path: &str) -> Page {
        let res = self
            .app
            .http
            .get(self.app.url(path))
            .header("cookie", self.cookie_header())
            .header("accept-language", self.accept_language)
            .send()
            .await
            .expect("GET");
        self.finish(res).await
    }

    pub(crate) async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let res = self
            .app
            .http
            .post(self.app.url(path))
            .header("cookie", self.cookie_header())
            .header("accept-language", self.accept_language)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(encode_form(form))
            .send()
            .await
            .expect("POST");
        self.finish(res).await
    }

    /// Signs in through the form; panics unless the server accepts.
    pub(crate) async fn sign_in(&mut self, login: &str, password: &str) {
        let csrf = self.get("/").await.csrf();
        let p = self
            .post(
                "/login",
                &[("csrf", &csrf), ("login", login), ("password", password)],
            )
            .await;
        assert_eq!(p.status, 303, "sign-in of {login}: {}", p.body);
        assert_eq!(p.location(), "/");
    }
}

/// Sets `login`'s password to [`PASSWORD`] directly in the store.
pub(crate) async fn set_password(app: &TestApp, shop: i64, login: &str) {
    let hash = tokio::task::spawn_blocking(|| shops::hash_password(PASSWORD))
        .await
        .unwrap();
    let login = login.to_string();
    app.store
        .write(move |c| {
            let u = users::find_user(c, shop, &login)?.expect("user");
            users::set_password(c, shop, u.id, &hash)
        })
        .await
        .unwrap();
}

/// Adds a user with `role` and [`PASSWORD`]; returns the login.
pub(crate) async fn add_user(app: &TestApp, shop: i64, local: &str, role: Role) -> String {
    let login = format!("{local}@shop-{shop}");
    let hash = tokio::task::spawn_blocking(|| shops::hash_password(PASSWORD))
        .await
        .unwrap();
    let l = login.clone();
    app.store
        .write(move |c| shops::insert_user(c, shop, &l, "Sam Cashier", role, &hash))
        .await
        .unwrap();
    login
}

/// The text of an HTML page's escaped content as the browser shows it.
pub(crate) fn unescape(html: &str) -> String {
    html.replace("&#60;", "<")
        .replace("&lt;", "<")
        .replace("&#62;", ">")
        .replace("&gt;", ">")
        .replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#38;", "&")
        .replace("&amp;", "&")
}
