//! TLS to PostgreSQL against a cluster of the test's own with a certificate made at test
//! time (skipped without initdb or openssl, unless `COMPTOIR_TEST_STRICT=1`): each
//! `sslmode` of the URL does what docs/operations.md says.

use comptoir_store::{DbUrl, Store, StoreError};
use comptoir_testkit::cluster::{TempCluster, make_ca, make_server_cert, openssl_present};

/// Opens a store on `url`; whether its connection is encrypted, or why it failed.
async fn encrypted(url: &str) -> Result<bool, String> {
    let db = DbUrl::parse(url)?;
    let store = Store::open(&db).await.map_err(|e| e.to_string())?;
    store
        .read(|c| {
            c.query_one(
                "select coalesce((select ssl from pg_stat_ssl where pid = pg_backend_pid()), false)",
                &[],
            )?
            .bool(0)
        })
        .await
        .map_err(|e: StoreError| e.to_string())
}

#[tokio::test]
async fn each_sslmode_against_a_server_with_a_certificate_of_a_private_ca() {
    let Some(mut cluster) = TempCluster::new() else {
        return;
    };
    if !openssl_present() {
        return;
    }
    let dir = cluster.dir().to_path_buf();
    make_ca(&dir, "ca");
    make_ca(&dir, "other-ca");
    make_server_cert(&dir, "ca", "server", "IP:127.0.0.1,DNS:localhost");
    let (cert, key) = (dir.join("server.crt"), dir.join("server.key"));
    cluster.start(
        "127.0.0.1,127.0.0.2",
        &[
            "ssl = on",
            &format!("ssl_cert_file = '{}'", cert.display()),
            &format!("ssl_key_file = '{}'", key.display()),
        ],
    );
    let ca = dir.join("ca.crt").display().to_string();
    let other = dir.join("other-ca.crt").display().to_string();
    let url = |host: &str, q: &str| cluster.url(host, q);
    let log = || cluster.log();

    // verify-full with the CA that signed the certificate: by address and by name.
    for host in ["127.0.0.1", "localhost"] {
        let u = url(host, &format!("sslmode=verify-full&sslrootcert={ca}"));
        assert_eq!(encrypted(&u).await, Ok(true), "{u}\n{}", log());
    }
    // Channel binding (SCRAM-SHA-256-PLUS) works through the connector.
    let u = url(
        "127.0.0.1",
        &format!("sslmode=verify-full&sslrootcert={ca}&channel_binding=require"),
    );
    assert_eq!(encrypted(&u).await, Ok(true), "{u}");

    // Another CA: refused, saying what the certificate was checked against.
    let e = encrypted(&url(
        "127.0.0.1",
        &format!("sslmode=verify-full&sslrootcert={other}"),
    ))
    .await
    .expect_err("a certificate of another CA");
    assert!(
        e.contains("error performing TLS handshake")
            && e.contains("invalid peer certificate")
            && e.contains(&format!("sslrootcert={other}")),
        "{e}"
    );
    let e = encrypted(&url(
        "127.0.0.1",
        &format!("sslmode=require&sslrootcert={other}"),
    ))
    .await
    .expect_err("require with a CA file checks the chain");
    assert!(e.contains("invalid peer certificate"), "{e}");

    // A name the certificate does not hold: verify-full refuses, verify-ca accepts.
    let e = encrypted(&url(
        "127.0.0.2",
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    ))
    .await
    .expect_err("127.0.0.2 is not in the certificate");
    assert!(
        e.contains("invalid peer certificate") && e.contains("name"),
        "{e}"
    );
    let u = url("127.0.0.2", &format!("sslmode=verify-ca&sslrootcert={ca}"));
    assert_eq!(encrypted(&u).await, Ok(true), "{u}");

    // require and prefer encrypt without checking the certificate.
    for q in [
        "sslmode=require",
        "sslmode=require&channel_binding=require",
        "sslmode=prefer",
    ] {
        assert_eq!(encrypted(&url("127.0.0.2", q)).await, Ok(true), "{q}");
    }
    // disable, and a URL without sslmode, do not use TLS.
    for q in ["sslmode=disable", ""] {
        assert_eq!(encrypted(&url("127.0.0.1", q)).await, Ok(false), "{q:?}");
    }
    // verify-full without a CA file is refused before connecting.
    let e = encrypted(&url("127.0.0.1", "sslmode=verify-full"))
        .await
        .expect_err("no CA file");
    assert!(
        e.contains("sslmode=verify-full needs sslrootcert=PATH"),
        "{e}"
    );
}

#[tokio::test]
async fn require_fails_clearly_when_the_server_has_no_tls() {
    let Some(mut cluster) = TempCluster::new() else {
        return;
    };
    cluster.start("127.0.0.1", &["ssl = off"]);
    let e = encrypted(&cluster.url("127.0.0.1", "sslmode=require"))
        .await
        .expect_err("the server has no TLS");
    assert!(e.contains("server does not support TLS"), "{e}");
    // prefer falls back to a plain connection, as with libpq.
    let u = cluster.url("127.0.0.1", "sslmode=prefer");
    assert_eq!(encrypted(&u).await, Ok(false));
}
