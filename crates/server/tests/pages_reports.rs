//! The Reports page over HTTP on a real server, on SQLite and (when
//! `COMPTOIR_TEST_POSTGRES` is set) PostgreSQL: who may open it, the default day, the
//! download through the session (the same bytes as getSales.php), the framed HTML report
//! and its own policy, and bad choices named.

mod common;

use common::{Client, PASSWORD, add_user};
use comptoir_core::model::{Licence, Role};
use comptoir_store::shops;
use comptoir_testkit::{TestApp, TestDb, encode_form};

#[tokio::test]
async fn reports_download_through_the_session_and_show_the_html_inline() {
    for db in TestDb::all() {
        let app = TestApp::spawn(&db).await;
        let shop = app.create_shop("Reports page", Licence::Extended).await;
        let cashier = add_user(&app, shop.shop_id, "sam", Role::Cashier).await;
        let accountant = add_user(&app, shop.shop_id, "ada", Role::Accountant).await;
        let id = shop.shop_id;
        let tz = app
            .store
            .read(move |c| shops::get_shop(c, id))
            .await
            .unwrap()
            .unwrap()
            .timezone
            .tz();
        let today = jiff::Timestamp::now().to_zoned(tz).date();
        let sid = shop.shop_id.to_string();
        let sold = app
            .post_form(
                "/workers/webapp.php",
                &[
                    ("idboutique", &sid),
                    ("key", &shop.api_key),
                    ("payment", "-1"),
                    ("itemsList[]", "Free_12.50_Coffee beans"),
                ],
            )
            .await
            .json::<serde_json::Value>()
            .await
            .unwrap();
        assert_eq!(sold["result"], "OK", "{sold}");

        let mut c = Client::new(&app);
        c.sign_in(&cashier, PASSWORD).await;
        assert!(c.get("/").await.body.contains("href=\"/reports\""), "menu");
        // No day chosen: yesterday in the shop's zone, framed from a same-origin route.
        let page = c.get("/reports").await;
        assert_eq!(page.status, 200, "{}", page.body);
        let yesterday = today.yesterday().unwrap().to_string();
        assert!(
            page.body.contains(&format!("value=\"{yesterday}\"")),
            "{}",
            page.body
        );
        let csp = page.headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-src 'self'") && csp.contains("frame-ancestors 'none'"));
        assert!(!csp.contains("unsafe-inline") && !page.body.contains("style="));
        assert!(
            page.body
                .contains(&format!("/reports/view?date={yesterday}"))
        );

        // The day's CSV through the session is getSales.php's, byte for byte.
        let day = today.to_string();
        let q = format!("date={day}&format=CSV");
        let down = c.get(&format!("/reports/download?{q}")).await;
        assert_eq!(down.status, 200, "{}", down.body);
        assert_eq!(
            down.headers["content-disposition"],
            format!("attachment; filename=\"sales-{id}-{day}.csv\"").as_str()
        );
        assert!(down.body.contains("12.50"), "{}", down.body);
        let (d, m, y) = (
            today.day().to_string(),
            today.month().to_string(),
            today.year().to_string(),
        );
        let api = app
            .get(&format!(
                "/workers/getSales.php?{}",
                encode_form(&[
                    ("idboutique", &sid),
                    ("key", &shop.api_key),
                    ("formatExport", "CSV"),
                    ("d", &d),
                    ("m", &m),
                    ("y", &y),
                ])
            ))
            .await
            .text()
            .await
            .unwrap();
        assert_eq!(down.body, api);
        // Every format of the list downloads.
        for (f, ext) in [
            ("Std", "html"),
            ("PDF", "pdf"),
            ("XLSX", "xlsx"),
            ("XML", "xml"),
            ("JSON", "json"),
            ("frafec", "txt"),
            ("frafec-utf8", "txt"),
        ] {
            let r = app
                .http
                .get(app.url(&format!("/reports/download?date={day}&format={f}")))
                .header("cookie", c.cookie_header())
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "{f}");
            let cd = r.headers()["content-disposition"]
                .to_str()
                .unwrap()
                .to_string();
            assert!(cd.ends_with(&format!(".{ext}\"")), "{f}: {cd}");
            assert!(!r.bytes().await.unwrap().is_empty(), "{f}");
        }
        // A cash box that sold nothing: the total is not there.
        let other = c
            .get(&format!(
                "/reports/download?date={day}&format=JSON&cashbox=999999"
            ))
            .await;
        assert_eq!(other.status, 200);
        assert!(!other.body.contains("12.5"), "{}", other.body);

        // The inline HTML report: the day's total, its own style allowed, sandboxed,
        // framed by this site only.
        let view = c.get(&format!("/reports/view?date={day}")).await;
        assert_eq!(view.status, 200);
        assert!(view.body.contains("12.50"), "{}", view.body);
        let vcsp = view.headers["content-security-policy"].to_str().unwrap();
        assert!(vcsp.contains("sandbox") && vcsp.contains("frame-ancestors 'self'"));
        assert!(!vcsp.contains("script-src"), "{vcsp}");
        assert_eq!(view.headers["x-frame-options"], "SAMEORIGIN");
        assert!(
            view.headers["content-disposition"]
                .to_str()
                .unwrap()
                .starts_with("inline")
        );

        // Bad choices are named, and nothing is downloaded.
        let bad = c.get("/reports?date=2026-02-31&cashbox=abc").await;
        assert_eq!(bad.status, 400);
        assert!(bad.body.contains("<strong>date</strong>"), "{}", bad.body);
        assert!(bad.body.contains("<strong>cashbox</strong>"));
        let bad = c.get("/reports/download?format=DOC").await;
        assert_eq!(bad.status, 303);
        assert!(
            bad.location().starts_with("/reports?"),
            "{}",
            bad.location()
        );
        let shown = c.get(bad.location()).await;
        assert_eq!(shown.status, 400);
        assert!(shown.body.contains("<strong>format</strong>"));

        // An accountant is refused; someone signed out is sent to sign in.
        let mut a = Client::new(&app);
        a.sign_in(&accountant, PASSWORD).await;
        for path in ["/reports", "/reports/download", "/reports/view"] {
            assert_eq!(a.get(path).await.status, 403, "{path}");
            let res = app.get(path).await;
            assert_eq!(res.status(), 303, "{path}");
        }
        assert!(!a.get("/").await.body.contains("href=\"/reports\""));
        app.stop().await;
    }
}
