//! A PHP-style decoder for `application/x-www-form-urlencoded` bodies and query strings:
//! `key=value` pairs, `itemsList[]=…` lists and `client[nom]=…` maps, with hard limits.

use std::collections::BTreeMap;
use std::fmt;

/// Most pairs accepted in one form (PHP's `max_input_vars` idea, but refused, not cut).
pub const MAX_PAIRS: usize = 10_000;

/// Longest key accepted, in bytes after percent-decoding (`client[adresseligne1]` included).
pub const MAX_KEY_BYTES: usize = 255;

/// Why a form was refused. Never a panic: every byte sequence gets a form or one of these.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FormError {
    /// More than [`MAX_PAIRS`] pairs.
    TooManyPairs,
    /// A key longer than [`MAX_KEY_BYTES`] bytes; holds the start of the key.
    KeyTooLong { start: String },
    /// A key or value whose bytes, once percent-decoded, are not UTF-8. Holds the key
    /// (lossily decoded: it is only for the message).
    InvalidUtf8 { key: String },
}

impl FormError {
    /// The error code of the spec: `payload_too_large` for too many pairs, else
    /// `invalid_parameter`.
    pub fn code(&self) -> &'static str {
        match self {
            FormError::TooManyPairs => "payload_too_large",
            FormError::KeyTooLong { .. } | FormError::InvalidUtf8 { .. } => "invalid_parameter",
        }
    }

    /// The field the error is about, when there is one.
    pub fn field(&self) -> Option<&str> {
        match self {
            FormError::TooManyPairs | FormError::KeyTooLong { .. } => None,
            FormError::InvalidUtf8 { key } => Some(key),
        }
    }
}

impl fmt::Display for FormError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FormError::TooManyPairs => {
                write!(
                    f,
                    "too many parameters: at most {MAX_PAIRS} key=value pairs"
                )
            }
            FormError::KeyTooLong { start } => write!(
                f,
                "parameter name too long: at most {MAX_KEY_BYTES} bytes, got one starting with {start:?}"
            ),
            FormError::InvalidUtf8 { key } => write!(
                f,
                "{key}: not valid UTF-8 once percent-decoded; send UTF-8 (e.g. \u{e9} as %C3%A9)"
            ),
        }
    }
}

impl std::error::Error for FormError {}

/// Percent-encodes a key or value for a query string or a form body: RFC 3986 unreserved
/// characters stay, every other byte is `%XY` (what [`Form::parse`] decodes back).
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A decoded form: scalars (`key`), lists (`key[]`) and maps (`key[sub]`), each in its own
/// namespace, so `a=1&a[]=2` has both `get("a") == Some("1")` and `list("a") == ["2"]`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Form {
    scalars: BTreeMap<String, String>,
    lists: BTreeMap<String, Vec<String>>,
    maps: BTreeMap<String, BTreeMap<String, String>>,
}

/// What a key names once its brackets are read.
enum Key<'a> {
    Scalar(&'a str),
    List(&'a str),
    Map(&'a str, &'a str),
    /// Nested brackets (`a[b][c]`) or an empty name: not used by any endpoint, ignored
    /// like an unknown parameter.
    Ignored,
}

impl Form {
    /// Decodes a query string or an `application/x-www-form-urlencoded` body.
    ///
    /// Pairs are split on `&` (empty pieces skipped); a piece without `=` is a key with an
    /// empty value. `+` is a space; `%XY` is the byte 0xXY; a `%` not followed by two hex
    /// digits stays as it is (like PHP and the WHATWG URL standard). The decoded bytes of
    /// every key and value must be UTF-8, else [`FormError::InvalidUtf8`]: Comptoir seals
    /// what it records, so it refuses to guess rather than store U+FFFD.
    pub fn parse(input: &[u8]) -> Result<Form, FormError> {
        let mut form = Form::default();
        let mut count = 0usize;
        for piece in input.split(|&b| b == b'&') {
            if piece.is_empty() {
                continue;
            }
            count += 1;
            if count > MAX_PAIRS {
                return Err(FormError::TooManyPairs);
            }
            let (raw_key, raw_value) = match piece.iter().position(|&b| b == b'=') {
                Some(i) => (&piece[..i], &piece[i + 1..]),
                None => (piece, &[][..]),
            };
            let (key, value) = text_pair(percent_decode(raw_key), percent_decode(raw_value))?;
            form.insert(&key, value);
        }
        Ok(form)
    }

    /// Builds a form from the raw bytes of pairs split elsewhere (the parts of a
    /// `multipart/form-data` body), with the same key grammar, limits and text rule as
    /// [`Form::parse`]: bytes that are not UTF-8 are refused naming the field.
    pub fn from_pairs<I, K, V>(pairs: I) -> Result<Form, FormError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<Vec<u8>>,
        V: Into<Vec<u8>>,
    {
        let mut form = Form::default();
        for (count, (key, value)) in pairs.into_iter().enumerate() {
            if count >= MAX_PAIRS {
                return Err(FormError::TooManyPairs);
            }
            let (key, value) = text_pair(key.into(), value.into())?;
            form.insert(&key, value);
        }
        Ok(form)
    }

    fn insert(&mut self, key: &str, value: String) {
        match classify(key) {
            Key::Scalar(name) => {
                self.scalars.insert(name.to_owned(), value);
            }
            Key::List(name) => self.lists.entry(name.to_owned()).or_default().push(value),
            Key::Map(name, sub) => {
                self.maps
                    .entry(name.to_owned())
                    .or_default()
                    .insert(sub.to_owned(), value);
            }
            Key::Ignored => {}
        }
    }

    /// The value of the plain key `name`; the last one wins when it is repeated (PHP).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.scalars.get(name).map(String::as_str)
    }

    /// The values of `name[]`, in the order they were sent; empty when absent.
    pub fn list(&self, name: &str) -> &[String] {
        self.lists.get(name).map_or(&[], Vec::as_slice)
    }

    /// The entries of `name[sub]`, sorted by `sub`; the last value wins for a repeated `sub`.
    pub fn map(&self, name: &str) -> Option<&BTreeMap<String, String>> {
        self.maps.get(name)
    }

    /// The value of `name[sub]`.
    pub fn map_get(&self, name: &str, sub: &str) -> Option<&str> {
        self.maps.get(name)?.get(sub).map(String::as_str)
    }

    /// An unambiguous text of every parameter except those named in `skip`, in a fixed
    /// order (scalars, lists in sent order, maps): equal forms give equal texts. Used to
    /// tell whether a replayed idempotency key comes with the same request.
    pub fn fingerprint(&self, skip: &[&str]) -> String {
        let mut out = String::new();
        let mut push = |kind: &str, k: &str, v: &str| {
            // Lengths first, so no value can imitate a separator.
            out.push_str(&format!("{kind}{}:{k}{}:{v};", k.len(), v.len()));
        };
        for (k, v) in &self.scalars {
            if !skip.contains(&k.as_str()) {
                push("s", k, v);
            }
        }
        for (k, vs) in &self.lists {
            for v in vs {
                push("l", k, v);
            }
        }
        for (k, m) in &self.maps {
            for (sub, v) in m {
                push("m", &format!("{k}[{sub}]"), v);
            }
        }
        out
    }

    /// Adds the pairs of `later` to this form as if they had been sent after it: scalars
    /// and map entries of `later` win, list entries are appended. For a GET query string
    /// plus a POST body, merge the body into the query (the body wins, like `$_REQUEST`).
    pub fn merge(&mut self, later: Form) {
        self.scalars.extend(later.scalars);
        for (name, values) in later.lists {
            self.lists.entry(name).or_default().extend(values);
        }
        for (name, entries) in later.maps {
            self.maps.entry(name).or_default().extend(entries);
        }
    }
}

/// One decoded pair as text: the key within [`MAX_KEY_BYTES`], both UTF-8. The one rule
/// for every body: Comptoir seals what it records, so it refuses to guess rather than
/// store U+FFFD.
fn text_pair(key: Vec<u8>, value: Vec<u8>) -> Result<(String, String), FormError> {
    if key.len() > MAX_KEY_BYTES {
        return Err(FormError::KeyTooLong {
            start: String::from_utf8_lossy(&key[..32]).into_owned(),
        });
    }
    let key = String::from_utf8(key).map_err(|e| FormError::InvalidUtf8 {
        key: String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })?;
    let value =
        String::from_utf8(value).map_err(|_| FormError::InvalidUtf8 { key: key.clone() })?;
    Ok((key, value))
}

/// The parameter a raw (still percent-encoded) key stands for, the way [`Form::parse`]
/// reads it: decoded, then cut at its first `[`, so `%6Bey`, `key[]` and `key[x]` all
/// name `key`. Lossy for invalid UTF-8: it is for telling secret parameters apart in
/// logs, which must agree with what authentication reads.
pub fn parameter_name(raw_key: &[u8]) -> String {
    let decoded = String::from_utf8_lossy(&percent_decode(raw_key)).into_owned();
    match decoded.find('[') {
        Some(open) => decoded[..open].to_owned(),
        None => decoded,
    }
}

/// Reads the brackets of a decoded key: `name`, `name[]`, `name[sub]`.
///
/// Like PHP, a `[` that is never closed is part of a plain name (PHP would also turn it
/// into `_`; no Comptoir parameter needs that). Names are not otherwise rewritten: PHP's
/// `.`→`_` and ` `→`_` mangling is not reproduced.
fn classify(key: &str) -> Key<'_> {
    let Some(open) = key.find('[') else {
        return if key.is_empty() {
            Key::Ignored
        } else {
            Key::Scalar(key)
        };
    };
    let name = &key[..open];
    let rest = &key[open + 1..];
    let Some(close) = rest.find(']') else {
        return Key::Scalar(key);
    };
    if name.is_empty() {
        return Key::Ignored;
    }
    let sub = &rest[..close];
    let after = &rest[close + 1..];
    // PHP ignores anything after the last `]` that is not another group; a second group
    // means a nested array, which no endpoint takes.
    if after.starts_with('[') {
        return Key::Ignored;
    }
    if sub.is_empty() {
        Key::List(name)
    } else {
        Key::Map(name, sub)
    }
}

/// Percent-decodes one key or value: `+` is a space, `%XY` a byte, a lone `%` itself.
fn percent_decode(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => match (
                raw.get(i + 1).copied().and_then(hex),
                raw.get(i + 2).copied().and_then(hex),
            ) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 3;
                }
                _ => {
                    out.push(b'%');
                    i += 1;
                }
            },
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod fingerprint_tests {
    use super::*;

    #[test]
    fn fingerprints_ignore_skipped_keys_and_see_every_value() {
        let a = Form::parse(b"key=1&payment=-1&itemsList[]=3&client[nom]=A").unwrap();
        let b = Form::parse(b"key=2&payment=-1&itemsList[]=3&client[nom]=A").unwrap();
        let c = Form::parse(b"key=1&payment=-1&itemsList[]=3&client[nom]=B").unwrap();
        assert_eq!(a.fingerprint(&["key"]), b.fingerprint(&["key"]));
        assert_ne!(a.fingerprint(&["key"]), c.fingerprint(&["key"]));
        assert_ne!(a.fingerprint(&[]), b.fingerprint(&[]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(s: &str) -> Form {
        Form::parse(s.as_bytes()).unwrap()
    }

    #[test]
    fn decodes_scalars_lists_and_maps() {
        let f = parse(
            "idboutique=12&key=abc&itemsList[]=12_2&itemsList[]=-3_4.50_Extra&client[nom]=Durand&client[prenom]=Ana",
        );
        assert_eq!(f.get("idboutique"), Some("12"));
        assert_eq!(f.get("key"), Some("abc"));
        assert_eq!(f.list("itemsList"), ["12_2", "-3_4.50_Extra"]);
        assert_eq!(f.map_get("client", "nom"), Some("Durand"));
        assert_eq!(f.map_get("client", "prenom"), Some("Ana"));
        assert_eq!(f.map("client").map(BTreeMap::len), Some(2));
        assert_eq!(f.get("missing"), None);
        assert!(f.list("missing").is_empty());
        assert_eq!(f.map("missing"), None);
    }

    #[test]
    fn percent_and_plus_are_decoded_in_keys_and_values() {
        let f = parse(
            "itemsList%5B%5D=Free_4%2C50_Caf%C3%A9+cr%C3%A8me&client%5Bville%5D=Saint+%C3%89tienne",
        );
        assert_eq!(f.list("itemsList"), ["Free_4,50_Café crème"]);
        assert_eq!(f.map_get("client", "ville"), Some("Saint Étienne"));
        assert_eq!(parse("a=%2b%2B+").get("a"), Some("++ "));
    }

    #[test]
    fn malformed_escapes_are_kept_literally() {
        let f = parse("a=100%&b=%zz&c=%4&d=%%41");
        assert_eq!(f.get("a"), Some("100%"));
        assert_eq!(f.get("b"), Some("%zz"));
        assert_eq!(f.get("c"), Some("%4"));
        assert_eq!(f.get("d"), Some("%A"));
    }

    #[test]
    fn last_scalar_wins_and_list_order_is_kept() {
        let f = parse("payment=1&itemsList[]=b&payment=2&itemsList[]=a&itemsList[]=b");
        assert_eq!(f.get("payment"), Some("2"));
        assert_eq!(f.list("itemsList"), ["b", "a", "b"]);
        assert_eq!(
            parse("client[nom]=A&client[nom]=B").map_get("client", "nom"),
            Some("B")
        );
    }

    #[test]
    fn pieces_without_value_and_empty_pieces() {
        let f = parse("&&flag&empty=&=orphan&x=1=2&");
        assert_eq!(f.get("flag"), Some(""));
        assert_eq!(f.get("empty"), Some(""));
        assert_eq!(f.get(""), None);
        assert_eq!(f.get("x"), Some("1=2"));
        assert_eq!(parse(""), Form::default());
    }

    #[test]
    fn odd_bracket_keys() {
        let f = parse("a[b=1&[]=2&[x]=3&n[a][b]=4&m[a]x=5&l[]]=6");
        // Unclosed bracket: a plain name.
        assert_eq!(f.get("a[b"), Some("1"));
        // Empty names and nested groups are ignored.
        assert!(f.list("").is_empty());
        assert_eq!(f.map("n"), None);
        // Text after the group is dropped, as PHP does.
        assert_eq!(f.map_get("m", "a"), Some("5"));
        assert_eq!(f.list("l"), ["6"]);
        // Same name in three namespaces.
        let f = parse("a=1&a[]=2&a[k]=3");
        assert_eq!(f.get("a"), Some("1"));
        assert_eq!(f.list("a"), ["2"]);
        assert_eq!(f.map_get("a", "k"), Some("3"));
    }

    #[test]
    fn invalid_utf8_is_refused_with_the_key() {
        let err = Form::parse(b"publicComment=caf%E9").unwrap_err();
        assert_eq!(
            err,
            FormError::InvalidUtf8 {
                key: "publicComment".into()
            }
        );
        assert_eq!(err.code(), "invalid_parameter");
        assert_eq!(err.field(), Some("publicComment"));
        assert!(
            err.to_string()
                .starts_with("publicComment: not valid UTF-8")
        );
        // Raw (not escaped) invalid bytes too, in keys as well.
        assert!(matches!(
            Form::parse(b"a=\xff"),
            Err(FormError::InvalidUtf8 { .. })
        ));
        let err = Form::parse(b"k%FFey=1").unwrap_err();
        assert_eq!(
            err,
            FormError::InvalidUtf8 {
                key: "k\u{fffd}ey".into()
            }
        );
    }

    #[test]
    fn too_many_pairs_is_refused() {
        let ok = "a=1&".repeat(MAX_PAIRS);
        assert!(Form::parse(ok.as_bytes()).is_ok());
        let too_many = format!("{ok}b=2");
        let err = Form::parse(too_many.as_bytes()).unwrap_err();
        assert_eq!(err, FormError::TooManyPairs);
        assert_eq!(err.code(), "payload_too_large");
        // Empty pieces do not count.
        let sparse = format!("{ok}&&&&");
        assert!(Form::parse(sparse.as_bytes()).is_ok());
    }

    #[test]
    fn long_keys_are_refused() {
        let key = "k".repeat(MAX_KEY_BYTES);
        assert!(Form::parse(format!("{key}=1").as_bytes()).is_ok());
        let err = Form::parse(format!("{key}k=1").as_bytes()).unwrap_err();
        assert!(matches!(err, FormError::KeyTooLong { .. }));
        assert_eq!(err.code(), "invalid_parameter");
        // Measured after decoding: 86 escaped bytes are 258 bytes on the wire but fine.
        let escaped = "%41".repeat(86);
        assert!(Form::parse(format!("{escaped}=1").as_bytes()).is_ok());
        // A cut inside a multi-byte character must not panic.
        let wide = "é".repeat(200);
        assert!(Form::parse(format!("{wide}=1").as_bytes()).is_err());
    }

    #[test]
    fn from_pairs_applies_the_same_grammar_and_limits() {
        let f = Form::from_pairs([
            ("itemsList[]", "1"),
            ("itemsList[]", "2"),
            ("client[nom]", "X"),
        ])
        .unwrap();
        assert_eq!(f.list("itemsList"), ["1", "2"]);
        assert_eq!(f.map_get("client", "nom"), Some("X"));
        let many = (0..=MAX_PAIRS).map(|i| (format!("k{i}"), String::new()));
        assert_eq!(Form::from_pairs(many), Err(FormError::TooManyPairs));
        let long = "é".repeat(200);
        assert!(matches!(
            Form::from_pairs([(long, "")]),
            Err(FormError::KeyTooLong { .. })
        ));
        assert_eq!(
            Form::from_pairs([(&b"itemsList[]"[..], &b"Free_1.00_caf\xe9"[..])]),
            Err(FormError::InvalidUtf8 {
                key: "itemsList[]".into()
            })
        );
    }

    #[test]
    fn parameter_names_are_decoded_and_cut_at_the_bracket() {
        assert_eq!(parameter_name(b"%6Bey"), "key");
        assert_eq!(parameter_name(b"pass%77ord"), "password");
        assert_eq!(parameter_name(b"key[]"), "key");
        assert_eq!(parameter_name(b"key%5Bx%5D"), "key");
        assert_eq!(parameter_name(b"a[b][c]"), "a");
        assert_eq!(parameter_name(b"k%FFey"), "k\u{fffd}ey");
    }

    #[test]
    fn merge_lets_the_later_form_win() {
        let mut q = parse("payment=-1&itemsList[]=1&client[nom]=A&idboutique=3");
        q.merge(parse("payment=2&itemsList[]=2&client[nom]=B"));
        assert_eq!(q.get("payment"), Some("2"));
        assert_eq!(q.get("idboutique"), Some("3"));
        assert_eq!(q.list("itemsList"), ["1", "2"]);
        assert_eq!(q.map_get("client", "nom"), Some("B"));
    }

    proptest! {
        #[test]
        fn never_panics_on_bytes(input in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = Form::parse(&input);
        }

        #[test]
        fn never_panics_on_form_like_text(input in "[a-z\\[\\]%=&+0-9A-F]{0,200}") {
            let _ = Form::parse(input.as_bytes());
        }

        #[test]
        fn encoded_values_round_trip(value in "\\PC{0,40}") {
            let encoded = percent_encode(&value);
            let f = Form::parse(format!("itemsList[]={encoded}&v={encoded}").as_bytes()).unwrap();
            prop_assert_eq!(f.get("v"), Some(value.as_str()));
            prop_assert_eq!(f.list("itemsList"), [value]);
        }
    }
}
