//! Runs every `sh` block of docs/web-services.md against a fresh demo server and checks
//! its `# expect:` lines, so the documented examples keep working.

use comptoir_testkit::{TestDb, require};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

const DOC: &str = include_str!("../../../docs/web-services.md");

/// The `sh` blocks of a Markdown text.
fn sh_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match (&mut current, line.trim_end()) {
            (None, "```sh") => current = Some(String::new()),
            (Some(b), "```") => {
                blocks.push(std::mem::take(b));
                current = None;
            }
            (Some(b), l) => {
                b.push_str(l);
                b.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}

#[test]
fn every_curl_example_of_the_web_services_doc_works() {
    let have_curl = Command::new("curl").arg("--version").output().is_ok();
    if !require(have_curl, "curl") {
        return;
    }
    let blocks = sh_blocks(DOC);
    assert!(blocks.len() >= 6, "found only {} sh blocks", blocks.len());

    let db = TestDb::sqlite();
    let mut server = Command::new(env!("CARGO_BIN_EXE_comptoir"))
        .args([
            "--db",
            &db.url,
            "serve",
            "--demo",
            "--listen",
            "127.0.0.1:0",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start serve");
    let mut out = BufReader::new(server.stdout.take().unwrap());
    let mut lines = Vec::new();
    for _ in 0..2 {
        let mut l = String::new();
        out.read_line(&mut l).unwrap();
        lines.push(l.trim().to_string());
    }
    let base = lines[0].strip_prefix("listening on ").unwrap().to_string();
    let field = |name: &str| {
        lines[1]
            .split(' ')
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("no {name} in {:?}", lines[1]))
            .to_string()
    };
    let (shop, key) = (field("id"), field("api_key"));
    let (login, password) = (field("login"), field("password"));

    for block in &blocks {
        let run = Command::new("bash")
            .args(["-euo", "pipefail", "-c", block])
            .env("BASE", &base)
            .env("SHOP", &shop)
            .env("KEY", &key)
            .env("LOGIN", &login)
            .env("PASSWORD", &password)
            .output()
            .expect("run bash");
        let stdout = String::from_utf8_lossy(&run.stdout);
        assert!(
            run.status.success(),
            "this example failed:\n{block}\nstdout: {stdout}\nstderr: {}",
            String::from_utf8_lossy(&run.stderr)
        );
        for expect in block
            .lines()
            .filter_map(|l| l.trim().strip_prefix("# expect: "))
        {
            assert!(
                stdout.contains(expect),
                "example:\n{block}\ndid not print {expect:?}; it printed:\n{stdout}"
            );
        }
    }
    let _ = server.kill();
    let _ = server.wait();
}
