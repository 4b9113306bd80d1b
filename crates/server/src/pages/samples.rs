//! The code samples of the query builder: from the sale's parameters, the URL the hosted
//! POS builds and five programs that send the same parameters as a form-encoded POST
//! (curl, PHP, Node.js, Java, jQuery). Pure functions; the suite runs each one.

pub(super) use comptoir_core::form::percent_encode as encode;

/// A parameter name in a URL: brackets stay readable (`itemsList[]`), as the hosted POS
/// writes them; everything else is encoded.
fn encode_name(s: &str) -> String {
    encode(s).replace("%5B", "[").replace("%5D", "]")
}

/// The endpoint the samples call.
pub(crate) fn endpoint(base: &str) -> String {
    format!("{}/workers/webapp.php", base.trim_end_matches('/'))
}

/// The GET URL with every parameter in the query string (the key too: see the page's note).
pub(crate) fn url(base: &str, params: &[(String, String)]) -> String {
    let q: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{}={}", encode_name(k), encode(v)))
        .collect();
    format!("{}?{}", endpoint(base), q.join("&"))
}

/// A text inside single quotes for a POSIX shell.
fn sh(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A string literal for PHP (single quotes), JavaScript, and Java (double quotes).
fn php(s: &str) -> String {
    format!("'{}'", s.replace('\\', r"\\").replace('\'', r"\'"))
}

fn js(s: &str) -> String {
    // JSON string syntax is valid in JavaScript and, for these escapes, in Java.
    let mut out = String::from("\"");
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{2028}' || c == '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// curl, one command: prints the answer, exits 22 when the answer is KO (an error status).
pub(crate) fn curl(base: &str, params: &[(String, String)]) -> String {
    let mut s = format!("curl -sS --fail-with-body -X POST {}", sh(&endpoint(base)));
    for (k, v) in params {
        s.push_str(" \\\n  --data-urlencode ");
        s.push_str(&sh(&format!("{k}={v}")));
    }
    s.push('\n');
    s
}

/// PHP with the curl extension and `http_build_query`.
pub(crate) fn php_sample(base: &str, params: &[(String, String)]) -> String {
    let mut scalars = Vec::new();
    let mut lines = Vec::new();
    let mut client = Vec::new();
    for (k, v) in params {
        if k == "itemsList[]" {
            lines.push(format!("        {},", php(v)));
        } else if let Some(sub) = k.strip_prefix("client[").and_then(|r| r.strip_suffix(']')) {
            client.push(format!("        {} => {},", php(sub), php(v)));
        } else {
            scalars.push(format!("    {} => {},", php(k), php(v)));
        }
    }
    let mut fields = scalars.join("\n");
    if !client.is_empty() {
        fields.push_str(&format!(
            "\n    'client' => [\n{}\n    ],",
            client.join("\n")
        ));
    }
    fields.push_str(&format!(
        "\n    'itemsList' => [\n{}\n    ],",
        lines.join("\n")
    ));
    format!(
        r#"<?php
// Records a sale on Comptoir (webapp.php); prints the answer, exits 1 when it is KO.
$fields = [
{fields}
];
// http_build_query numbers list entries (itemsList[0]=...); the web service reads PHP's
// itemsList[] form, so the numbers are taken out.
$body = preg_replace('/%5B[0-9]+%5D=/', '%5B%5D=', http_build_query($fields));
$ch = curl_init({url});
curl_setopt_array($ch, [
    CURLOPT_POST => true,
    CURLOPT_POSTFIELDS => $body,
    CURLOPT_RETURNTRANSFER => true,
    CURLOPT_HTTPHEADER => ['Content-Type: application/x-www-form-urlencoded'],
]);
$answer = curl_exec($ch);
if ($answer === false) {{
    fwrite(STDERR, curl_error($ch) . "\n");
    exit(1);
}}
echo $answer, "\n";
$result = json_decode($answer, true);
exit(($result['result'] ?? '') === 'OK' ? 0 : 1);
"#,
        url = php(&endpoint(base)),
    )
}

/// Node.js (18+): built-in `fetch` and `URLSearchParams`.
pub(crate) fn node(base: &str, params: &[(String, String)]) -> String {
    let pairs: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("  [{}, {}],", js(k), js(v)))
        .collect();
    format!(
        r#"// Records a sale on Comptoir (webapp.php); prints the answer, exits 1 when it is KO.
const params = new URLSearchParams([
{pairs}
]);
fetch({url}, {{ method: "POST", body: params }})
  .then(async (res) => {{
    const text = await res.text();
    console.log(text);
    let result = "";
    try {{ result = JSON.parse(text).result; }} catch (e) {{}}
    process.exitCode = res.ok && result === "OK" ? 0 : 1;
  }})
  .catch((err) => {{
    console.error(err);
    process.exitCode = 1;
  }});
"#,
        pairs = pairs.join("\n"),
        url = js(&endpoint(base)),
    )
}

/// Java 11+, one source file: `java RecordSale.java`.
pub(crate) fn java(base: &str, params: &[(String, String)]) -> String {
    let pairs: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("            {{{}, {}}},", js(k), js(v)))
        .collect();
    format!(
        r#"// Records a sale on Comptoir (webapp.php); prints the answer, exits 1 when it is KO.
// Run with: java RecordSale.java
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.StringJoiner;

public class RecordSale {{
    public static void main(String[] args) throws Exception {{
        String[][] params = {{
{pairs}
        }};
        StringJoiner body = new StringJoiner("&");
        for (String[] p : params) {{
            body.add(URLEncoder.encode(p[0], StandardCharsets.UTF_8) + "="
                    + URLEncoder.encode(p[1], StandardCharsets.UTF_8));
        }}
        HttpRequest request = HttpRequest.newBuilder(URI.create({url}))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString(body.toString()))
                .build();
        HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        HttpResponse<String> response = client.send(request, HttpResponse.BodyHandlers.ofString());
        System.out.println(response.body());
        boolean ok = response.statusCode() == 200 && response.body().contains("\"result\":\"OK\"");
        System.exit(ok ? 0 : 1);
    }}
}}
"#,
        pairs = pairs.join("\n"),
        url = js(&endpoint(base)),
    )
}

/// jQuery (`$.post`), for a page of a website: the web services answer any origin (CORS).
pub(crate) fn jquery(base: &str, params: &[(String, String)]) -> String {
    let pairs: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("  {{ name: {}, value: {} }},", js(k), js(v)))
        .collect();
    format!(
        r#"// Records a sale on Comptoir (webapp.php) from a web page with jQuery loaded.
// Comptoir answers cross-origin calls (Access-Control-Allow-Origin: *), so this runs from
// any site; but the key is then visible to every visitor: use it only on a private page.
$.post({url}, $.param([
{pairs}
]))
  .done(function (answer) {{
    console.log(JSON.stringify(answer));
    if (answer.result !== "OK") {{ throw new Error("KO"); }}
  }})
  .fail(function (xhr) {{
    console.error(xhr.responseText);
  }});
"#,
        pairs = pairs.join("\n"),
        url = js(&endpoint(base)),
    )
}

/// Every sample: language name, file name, text.
pub(crate) fn all(
    base: &str,
    params: &[(String, String)],
) -> Vec<(&'static str, &'static str, String)> {
    vec![
        ("curl", "record-sale.sh", curl(base, params)),
        ("PHP", "record-sale.php", php_sample(base, params)),
        ("Node.js", "record-sale.js", node(base, params)),
        ("Java", "RecordSale.java", java(base, params)),
        ("jQuery", "record-sale.js", jquery(base, params)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> Vec<(String, String)> {
        [
            ("idboutique", "7"),
            ("key", "cpt_ab_cd"),
            ("itemsList[]", "Free_2.50_Tom's \"best\" tea & cake"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    #[test]
    fn the_url_encodes_values_and_keeps_brackets() {
        assert_eq!(
            url("http://h:1/", &params()),
            "http://h:1/workers/webapp.php?idboutique=7&key=cpt_ab_cd&itemsList[]=Free_2.50_Tom%27s%20%22best%22%20tea%20%26%20cake"
        );
    }

    #[test]
    fn quotes_are_escaped_for_each_language() {
        let p = params();
        assert!(
            curl("http://h", &p).contains(r#"'itemsList[]=Free_2.50_Tom'\''s "best" tea & cake'"#)
        );
        assert!(php_sample("http://h", &p).contains(r#"'Free_2.50_Tom\'s "best" tea & cake'"#));
        assert!(
            node("http://h", &p)
                .contains(r#"["itemsList[]", "Free_2.50_Tom's \"best\" tea & cake"]"#)
        );
        assert!(
            java("http://h", &p)
                .contains(r#"{"itemsList[]", "Free_2.50_Tom's \"best\" tea & cake"}"#)
        );
        assert!(jquery("http://h", &p).contains(r#"{ name: "key", value: "cpt_ab_cd" }"#));
        assert_eq!(js("a\nb\u{2028}"), r#""a\nb\u2028""#);
    }
}
