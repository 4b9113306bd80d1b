//! Request ids, one tracing span per request, and redaction of secrets in logged URLs.

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

/// The header that carries the request id, in and out.
pub const REQUEST_ID: &str = "x-request-id";

/// Query parameters whose values never reach a log line.
const SECRET_PARAMS: &[&str] = &["key", "password", "secret", "token", "api_key"];

/// Replaces the values of secret parameters in a query string by `***`. A parameter is
/// recognised by its decoded name, as authentication reads it (`%6Bey`, `key[]`, `key[x]`
/// are all `key`), never by its raw spelling.
pub fn redact_query(query: &str) -> String {
    query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, _)) if is_secret(k) => format!("{k}=***"),
            _ => pair.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn is_secret(raw_key: &str) -> bool {
    let name = comptoir_core::form::parameter_name(raw_key.as_bytes()).to_ascii_lowercase();
    SECRET_PARAMS.iter().any(|s| name == *s)
}

/// Gives each request an id (the caller's `x-request-id` when sane, else a new one),
/// runs it inside a span that names it, logs one line at the end, echoes the id back.
/// When info lines are filtered out, neither the span nor the line is built.
pub async fn trace_requests(mut req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(REQUEST_ID)
        .filter(|v| {
            let b = v.as_bytes();
            !b.is_empty() && b.len() <= 64 && b.iter().all(u8::is_ascii_graphic)
        })
        .cloned()
        .unwrap_or_else(new_request_id);
    req.headers_mut().insert(REQUEST_ID, id.clone());
    let mut res = if tracing::enabled!(tracing::Level::INFO) {
        let route = req
            .extensions()
            .get::<MatchedPath>()
            .map_or_else(|| req.uri().path().to_string(), |m| m.as_str().to_string());
        let query = req.uri().query().map(redact_query).unwrap_or_default();
        let span = tracing::info_span!(
            "request",
            request_id = id.to_str().unwrap_or(""),
            method = %req.method(),
            route = %route
        );
        let started = std::time::Instant::now();
        let res = next.run(req).instrument(span.clone()).await;
        span.in_scope(|| {
            tracing::info!(
                status = res.status().as_u16(),
                ms = started.elapsed().as_secs_f64() * 1000.0,
                query = %query,
                "request done"
            );
        });
        res
    } else {
        next.run(req).await
    };
    res.headers_mut().insert(REQUEST_ID, id);
    res
}

/// A new request id: 16 hex digits, unique within the process (a counter through a
/// bijective mix, keyed by a random seed), without a system call or an allocation per id.
fn new_request_id() -> HeaderValue {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEED: OnceLock<u64> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let seed = *SEED.get_or_init(|| {
        let mut b = [0u8; 8];
        // Without an OS random source ids stay unique in the process, only guessable.
        let _ = getrandom::fill(&mut b);
        u64::from_le_bytes(b)
    });
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    // splitmix64's finaliser: a bijection of u64, so distinct counters give distinct ids.
    let mut z = seed.wrapping_add(n.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 16];
    for (i, o) in out.iter_mut().enumerate() {
        *o = DIGITS[((z >> (60 - 4 * i)) & 15) as usize];
    }
    HeaderValue::from_bytes(&out).expect("hex digits are a valid header value")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_from_queries() {
        assert_eq!(
            redact_query("idboutique=3&key=cpt_abc&itemsList[]=1&PASSWORD=x"),
            "idboutique=3&key=***&itemsList[]=1&PASSWORD=***"
        );
        assert_eq!(
            redact_query("%6Bey=a&pass%77ord=b&key[]=c&key%5Bx%5D=d&token[0]=e&keys=f"),
            "%6Bey=***&pass%77ord=***&key[]=***&key%5Bx%5D=***&token[0]=***&keys=f"
        );
    }

    #[test]
    fn new_request_ids_are_sixteen_hex_digits_and_distinct() {
        let ids: std::collections::HashSet<String> = (0..10_000)
            .map(|_| new_request_id().to_str().unwrap().to_string())
            .collect();
        assert_eq!(ids.len(), 10_000);
        assert!(ids.iter().all(|id| {
            id.len() == 16
                && id
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        }));
    }
}
