//! How the store reaches PostgreSQL: the URL, its TLS settings in libpq's words (`sslmode`,
//! `sslrootcert`), and the connection budget of a process (pool and writer lanes).
//!
//! TLS goes through rustls and the `tokio-postgres-rustls` connector, which also gives
//! SCRAM channel binding (`channel_binding=require` in the URL makes it mandatory).

use crate::StoreError;
use crate::pg_client::{Bounded, PgClient};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::sync::Arc;
use std::time::Duration;
use tokio_postgres::NoTls;
use tokio_postgres::config::Host;

/// How many connections one process keeps to PostgreSQL: a pool for requests, reports and
/// background work, one connection per sales writer lane beside it, and one for the
/// lanes' WAL flusher (`pg_writer::Flusher`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionBudget {
    pool: usize,
    lanes: usize,
}

impl ConnectionBudget {
    /// Most connections a pool may have.
    pub const MAX_POOL: usize = 1000;
    /// Most sales writer lanes.
    pub const MAX_LANES: usize = 64;

    /// A pool of `pool` connections and `lanes` writer lanes; each at least 1 and at most
    /// [`Self::MAX_POOL`] and [`Self::MAX_LANES`].
    pub fn new(pool: usize, lanes: usize) -> Result<ConnectionBudget, String> {
        if !(1..=Self::MAX_POOL).contains(&pool) {
            return Err(format!(
                "pool size: expected 1 to {}, got {pool}",
                Self::MAX_POOL
            ));
        }
        if !(1..=Self::MAX_LANES).contains(&lanes) {
            return Err(format!(
                "writer lanes: expected 1 to {}, got {lanes}",
                Self::MAX_LANES
            ));
        }
        Ok(ConnectionBudget { pool, lanes })
    }

    pub fn pool(&self) -> usize {
        self.pool
    }

    pub fn lanes(&self) -> usize {
        self.lanes
    }

    /// Connections the process may hold at once: the pool's, the lanes' and the flusher's.
    pub fn total(&self) -> usize {
        self.pool + self.lanes + 1
    }

    /// The lanes a process gets unless told: one per two cores of this machine, 1 to 4.
    // Why: a lane commits without waiting for its WAL flush, so its transactions are
    // the database's CPU, not its disk's; lanes beyond what the cores run in parallel only
    // cut the groups into more transactions (more commits, locks and statements per sale).
    // Measured on 2 cores, 100 shops: 1 lane recorded 1.2–1.3 times the sales of 4 at
    // 0.7–0.8 times the database CPU per sale (docs/performance.md, "How many lanes").
    pub fn default_lanes(cores: usize) -> usize {
        (cores / 2).clamp(1, 4)
    }
}

impl Default for ConnectionBudget {
    /// 16 pooled connections and [`ConnectionBudget::default_lanes`] for this machine's
    /// cores (and the flusher): 18 to 21 connections per process.
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        ConnectionBudget {
            pool: 16,
            lanes: ConnectionBudget::default_lanes(cores),
        }
    }
}

/// libpq's `sslmode`, those of its values that Comptoir supports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SslMode {
    /// No TLS (also what a URL without `sslmode` gets).
    Disable,
    /// TLS when the server offers it, its certificate unchecked; plain otherwise.
    Prefer,
    /// TLS or no connection; the certificate is checked against `sslrootcert` when given.
    Require,
    /// TLS, the certificate signed by the CA of `sslrootcert`; the host name unchecked.
    VerifyCa,
    /// TLS, the certificate signed by the CA of `sslrootcert` and naming the host.
    VerifyFull,
}

impl SslMode {
    fn parse(value: &str) -> Result<SslMode, StoreError> {
        Ok(match value {
            "disable" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => {
                return Err(StoreError::Open(format!(
                    "sslmode: expected disable, prefer, require, verify-ca or verify-full, \
                     got {other:?}"
                )));
            }
        })
    }
}

/// How long a connection may take as a whole (TCP, TLS, startup and authentication) when
/// the URL sets no `connect_timeout` (or 0, libpq's "forever").
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A parsed PostgreSQL URL: the driver's settings and the TLS connector, if any.
pub(crate) struct PgTarget {
    config: tokio_postgres::Config,
    /// What bounds a whole connect: the URL's `connect_timeout`, or the default.
    timeout: Duration,
    /// The server's `host:port`s, for messages.
    hosts: String,
    mode: SslMode,
    /// The `sslrootcert` file, for error messages.
    root_cert: Option<String>,
    tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
}

impl PgTarget {
    /// Reads `url`: `sslmode` and `sslrootcert` are taken out and handled here (the driver
    /// knows neither `verify-*` nor CA files), the rest goes to the driver. The CA file is
    /// read now, so that a wrong path fails at start.
    pub(crate) fn parse(url: &str) -> Result<PgTarget, StoreError> {
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let mut mode = SslMode::Disable;
        let mut root_cert = None;
        let mut rest = Vec::new();
        for piece in query.split('&').filter(|p| !p.is_empty()) {
            let key = piece.split_once('=').map_or(piece, |(k, _)| k);
            if key != "sslmode" && key != "sslrootcert" {
                rest.push(piece);
                continue;
            }
            let form = comptoir_core::form::Form::parse(piece.as_bytes())
                .map_err(|e| StoreError::Open(format!("{key}: {e}")))?;
            let value = form.get(key).unwrap_or_default();
            if key == "sslmode" {
                mode = SslMode::parse(value)?;
            } else {
                root_cert = Some(value.to_string());
            }
        }
        let driver_url = if rest.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", rest.join("&"))
        };
        let mut config: tokio_postgres::Config = driver_url
            .parse()
            .map_err(|e| StoreError::Open(format!("invalid PostgreSQL URL: {}", error_text(&e))))?;
        // The driver bounds only the TCP connect by it; `connect` bounds the whole.
        let timeout = config
            .get_connect_timeout()
            .copied()
            .unwrap_or(DEFAULT_CONNECT_TIMEOUT);
        config.connect_timeout(timeout);
        config.ssl_mode(match mode {
            SslMode::Disable => tokio_postgres::config::SslMode::Disable,
            SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
                tokio_postgres::config::SslMode::Require
            }
        });
        let hosts = hosts_text(&config);
        let tls = match mode {
            SslMode::Disable => None,
            _ => Some(tokio_postgres_rustls::MakeRustlsConnect::new(
                client_config(mode, root_cert.as_deref())?,
            )),
        };
        Ok(PgTarget {
            config,
            timeout,
            hosts,
            mode,
            root_cert,
            tls,
        })
    }

    /// A new connection, made within the connect timeout as a whole.
    pub(crate) fn connect(&self) -> Result<PgClient, StoreError> {
        let connected = match &self.tls {
            None => Bounded::connect(&self.config, NoTls, self.timeout, &self.hosts)?,
            Some(tls) => Bounded::connect(&self.config, tls.clone(), self.timeout, &self.hosts)?,
        };
        connected
            .map(PgClient::from)
            .map_err(|e| StoreError::Open(self.explain(&e)))
    }

    /// The driver's message, and for a refused certificate what it was checked against.
    fn explain(&self, e: &tokio_postgres::Error) -> String {
        let text = error_text(e);
        if !text.contains("TLS") {
            return text;
        }
        match (self.mode, &self.root_cert) {
            (SslMode::VerifyFull, Some(ca)) => format!(
                "{text} (sslmode=verify-full: the server's certificate must be signed by a \
                 CA of sslrootcert={ca} and name the host)"
            ),
            (_, Some(ca)) => format!(
                "{text} (the server's certificate must be signed by a CA of sslrootcert={ca})"
            ),
            _ => text,
        }
    }
}

/// `host:port` of each server the URL names, comma-separated.
fn hosts_text(config: &tokio_postgres::Config) -> String {
    let ports = config.get_ports();
    let port = |i: usize| ports.get(i).or(ports.first()).copied().unwrap_or(5432);
    let mut names: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|h| match h {
            Host::Tcp(name) => name.clone(),
            Host::Unix(path) => path.display().to_string(),
        })
        .collect();
    if names.is_empty() {
        names = config
            .get_hostaddrs()
            .iter()
            .map(|a| a.to_string())
            .collect();
    }
    names
        .iter()
        .enumerate()
        .map(|(i, name)| format!("{name}:{}", port(i)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The driver's error with its causes: its own text leaves them out ("db error", "error
/// performing TLS handshake"), and they say what went wrong.
pub(crate) fn error_text(e: &tokio_postgres::Error) -> String {
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
        cause = c.source();
    }
    text
}

/// The rustls settings for `mode`: which certificates the server may show.
fn client_config(
    mode: SslMode,
    root_cert: Option<&str>,
) -> Result<rustls::ClientConfig, StoreError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = match root_cert {
        Some(path) => Some(Arc::new(load_roots(path)?)),
        None if matches!(mode, SslMode::VerifyCa | SslMode::VerifyFull) => {
            let mode = if mode == SslMode::VerifyCa {
                "verify-ca"
            } else {
                "verify-full"
            };
            return Err(StoreError::Open(format!(
                "sslmode={mode} needs sslrootcert=PATH: the PEM file of the CA that signed \
                 the server's certificate"
            )));
        }
        None => None,
    };
    let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::Open(format!("TLS settings: {e}")))?;
    let verifier: Arc<dyn ServerCertVerifier> = match (mode, roots) {
        (SslMode::VerifyFull, Some(roots)) => webpki(roots, &provider)?,
        // libpq's rule: `require` with a CA file checks the chain as `verify-ca` does.
        (_, Some(roots)) => Arc::new(AnyName(webpki(roots, &provider)?)),
        (_, None) => Arc::new(Unchecked(provider)),
    };
    Ok(builder
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth())
}

fn webpki(
    roots: Arc<RootCertStore>,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<dyn ServerCertVerifier>, StoreError> {
    let verifier =
        rustls::client::WebPkiServerVerifier::builder_with_provider(roots, Arc::clone(provider))
            .build()
            .map_err(|e| StoreError::Open(format!("sslrootcert: {e}")))?;
    Ok(verifier)
}

/// The certificates of the PEM file at `path`.
fn load_roots(path: &str) -> Result<RootCertStore, StoreError> {
    let bad = |what: String| StoreError::Open(format!("sslrootcert={path}: {what}"));
    let pem = std::fs::read(path).map_err(|e| bad(format!("cannot read the file: {e}")))?;
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| bad(format!("not a PEM certificate file: {e}")))?;
        roots
            .add(cert)
            .map_err(|e| bad(format!("a certificate cannot be used as a CA: {e}")))?;
    }
    if roots.is_empty() {
        return Err(bad("no certificate in the file (expected PEM)".into()));
    }
    Ok(roots)
}

/// Checks the chain with the inner verifier but not the host name (`verify-ca`).
#[derive(Debug)]
struct AnyName(Arc<dyn ServerCertVerifier>);

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // webpki checks the chain first, the name last: a name error means the chain held.
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// Takes any certificate (`prefer`, `require` without a CA file): the link is encrypted but
/// the server unauthenticated, as with libpq. The handshake's signatures are still checked,
/// so that channel binding (SCRAM-SHA-256-PLUS) can detect a man in the middle.
#[derive(Debug)]
struct Unchecked(Arc<CryptoProvider>);

impl ServerCertVerifier for Unchecked {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(url: &str) -> String {
        match PgTarget::parse(url) {
            Ok(_) => panic!("{url} was accepted"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn tls_settings_are_read_from_the_url() {
        let t = PgTarget::parse("postgres://u@h/db").unwrap();
        assert_eq!(t.mode, SslMode::Disable);
        assert!(t.tls.is_none());
        let t = PgTarget::parse("postgres://u@h/db?application_name=x&sslmode=require").unwrap();
        assert_eq!(t.mode, SslMode::Require);
        assert_eq!(
            t.config.get_ssl_mode(),
            tokio_postgres::config::SslMode::Require
        );
        assert_eq!(t.config.get_application_name(), Some("x"));
        assert!(t.tls.is_some());
        assert_eq!(
            PgTarget::parse("postgres://u@h/db?sslmode=prefer")
                .unwrap()
                .config
                .get_ssl_mode(),
            tokio_postgres::config::SslMode::Prefer
        );
    }

    #[test]
    fn the_connect_timeout_is_the_urls_or_the_default() {
        let t = PgTarget::parse("postgres://u@h/db").unwrap();
        assert_eq!(t.timeout, DEFAULT_CONNECT_TIMEOUT);
        assert_eq!(t.hosts, "h:5432");
        let t = PgTarget::parse("postgres://u@h:6000/db?connect_timeout=3").unwrap();
        assert_eq!(t.timeout, Duration::from_secs(3));
        assert_eq!(t.hosts, "h:6000");
        // libpq's 0 is "wait forever": the default bounds it all the same.
        let t = PgTarget::parse("postgres://u@a:7,b:8/db?connect_timeout=0").unwrap();
        assert_eq!(t.timeout, DEFAULT_CONNECT_TIMEOUT);
        assert_eq!(t.hosts, "a:7, b:8");
    }

    #[test]
    fn bad_tls_settings_are_refused_naming_the_setting() {
        let e = error("postgres://u@h/db?sslmode=verify-everything");
        assert!(e.contains("sslmode: expected disable, prefer"), "{e}");
        let e = error("postgres://u@h/db?sslmode=require&sslcert=%2Fclient.pem");
        assert!(
            e.contains("invalid PostgreSQL URL") && e.contains("sslcert"),
            "{e}"
        );
        let e = error("postgres://u@h/db?sslmode=verify-full");
        assert!(
            e.contains("sslmode=verify-full needs sslrootcert=PATH"),
            "{e}"
        );
        let e = error("postgres://u@h/db?sslmode=verify-ca&sslrootcert=%2Fno%2Fsuch%2Fca.pem");
        assert!(
            e.contains("sslrootcert=/no/such/ca.pem: cannot read the file"),
            "{e}"
        );
        let dir = std::env::temp_dir().join(format!(
            "comptoir-ca-{}",
            crate::hex(&crate::random_bytes::<6>())
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let e = error(&format!(
            "postgres://u@h/db?sslmode=verify-full&sslrootcert={}",
            empty.display()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        assert!(e.contains("no certificate in the file"), "{e}");
    }

    #[test]
    fn the_budget_counts_pool_and_lanes() {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let lanes = ConnectionBudget::default_lanes(cores);
        assert_eq!(ConnectionBudget::default().total(), 16 + lanes + 1);
        let by_cores: Vec<usize> = [1, 2, 3, 4, 6, 8, 16, 96]
            .into_iter()
            .map(ConnectionBudget::default_lanes)
            .collect();
        assert_eq!(by_cores, [1, 1, 1, 2, 3, 4, 4, 4]);
        assert_eq!(ConnectionBudget::new(8, 2).unwrap().total(), 11);
        assert!(
            ConnectionBudget::new(0, 2)
                .unwrap_err()
                .contains("pool size")
        );
        assert!(
            ConnectionBudget::new(8, 65)
                .unwrap_err()
                .contains("writer lanes")
        );
    }
}
