//! A real browser for the page tests: Debian's headless Chromium, driven
//! over the DevTools protocol on a websocket. Where Chromium is missing,
//! the page tests fail under CI (`CI` set: `.ci/run` installs it) and are
//! skipped with a note elsewhere.

use std::{
    process::Stdio,
    sync::atomic::{AtomicU64, Ordering},
    time::{Duration, Instant},
};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    net::TcpStream,
    process::{Child, Command},
};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, tungstenite::Message};

/// How many seconds a page test waits for what it expects, and for
/// Chromium to answer. Far longer than it takes (a page test runs in about
/// 3 s on two idle cores): a CI machine running the whole suite may be five
/// times slower, and a longer wait only delays a failure.
pub const PATIENCE: f64 = 120.0;

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// One headless Chromium with one page.
pub struct Browser {
    child: Child,
    socket: Socket,
    session: String,
    next_id: AtomicU64,
    _profile: tempfile::TempDir,
}

fn chromium() -> Option<String> {
    if let Ok(path) = std::env::var("PORTFOLIO_CHROMIUM") {
        return Some(path);
    }
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|name| {
            std::process::Command::new(name)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
        .map(str::to_owned)
}

impl Browser {
    /// A browser, or `None` (with a note) where none is installed outside CI.
    pub async fn launch() -> Option<Self> {
        let Some(binary) = chromium() else {
            assert!(
                std::env::var_os("CI").is_none(),
                "Chromium is needed for the page tests: apt-get install -y chromium"
            );
            eprintln!("skipped: no Chromium (apt-get install -y chromium)");
            return None;
        };
        let profile = tempfile::tempdir().expect("a profile folder");
        let mut child = Command::new(binary)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--remote-debugging-port=0",
                "--window-size=1400,900",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("Chromium starts");
        let stderr = child.stderr.take().expect("piped stderr");
        let mut lines = BufReader::new(stderr).lines();
        let endpoint = tokio::time::timeout(Duration::from_secs_f64(PATIENCE), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(at) = line.find("ws://") {
                    return Some(line[at..].trim().to_owned());
                }
            }
            None
        })
        .await
        .expect("Chromium prints its DevTools address within 30 s")
        .expect("Chromium prints its DevTools address");
        // Keep draining its log so that it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let (socket, _) = tokio_tungstenite::connect_async(endpoint.as_str())
            .await
            .expect("the DevTools socket opens");
        let mut browser = Self {
            child,
            socket,
            session: String::new(),
            next_id: AtomicU64::new(1),
            _profile: profile,
        };
        browser.open_page().await;
        Some(browser)
    }

    /// Opens another page, in a window of its own (as another screen would
    /// show it, so it is never a hidden background tab that Chromium
    /// throttles), and makes it the current one; answers the page that was
    /// current, for [`Browser::switch_to`].
    pub async fn open_page(&mut self) -> String {
        let target = self
            .call(
                None,
                "Target.createTarget",
                json!({ "url": "about:blank", "newWindow": true }),
            )
            .await;
        let attached = self
            .call(
                None,
                "Target.attachToTarget",
                json!({ "targetId": target["targetId"], "flatten": true }),
            )
            .await;
        let session = attached["sessionId"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        std::mem::replace(&mut self.session, session)
    }

    /// Makes `page` (from [`Browser::open_page`]) the current page; answers
    /// the page that was current.
    pub fn switch_to(&mut self, page: String) -> String {
        std::mem::replace(&mut self.session, page)
    }

    async fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut message = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = session {
            message["sessionId"] = json!(session);
        }
        self.socket
            .send(Message::text(message.to_string()))
            .await
            .expect("DevTools accepts the command");
        loop {
            let reply = tokio::time::timeout(Duration::from_secs_f64(PATIENCE), self.socket.next())
                .await
                .expect("DevTools answers within 30 s")
                .expect("the DevTools socket stays open")
                .expect("a DevTools message");
            let Message::Text(text) = reply else { continue };
            let value: Value = serde_json::from_str(&text).expect("DevTools sends JSON");
            if value["id"] == json!(id) {
                assert!(value.get("error").is_none(), "{method} failed: {value}");
                return value["result"].clone();
            }
        }
    }

    /// A DevTools command on the current page (`Performance.getMetrics`, ...).
    pub async fn page_command(&mut self, method: &str, params: Value) -> Value {
        let session = self.session.clone();
        self.call(Some(&session), method, params).await
    }

    /// Opens `url` in the page.
    pub async fn goto(&mut self, url: &str) {
        self.page_command("Page.navigate", json!({ "url": url }))
            .await;
    }

    /// The value of a JavaScript expression in the page (promises awaited).
    pub async fn eval(&mut self, expression: &str) -> Value {
        let result = self
            .page_command(
                "Runtime.evaluate",
                json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
            )
            .await;
        assert!(
            result.get("exceptionDetails").is_none(),
            "{expression} threw: {result}"
        );
        result["result"]["value"].clone()
    }

    /// Waits until `expression` is truthy in the page; panics after `secs`
    /// seconds, with what the page shows.
    pub async fn wait_for(&mut self, expression: &str, secs: f64) -> Duration {
        let started = Instant::now();
        // While a page loads, parts of it may not exist yet: that is "not yet".
        let check = format!(
            "(() => {{ try {{ return Boolean({expression}); }} catch {{ return false; }} }})()"
        );
        loop {
            if self.eval(&check).await == json!(true) {
                return started.elapsed();
            }
            if started.elapsed().as_secs_f64() > secs {
                let text = self
                    .eval("document.body ? document.body.innerText.slice(0, 2000) : ''")
                    .await;
                panic!("not within {secs} s: {expression}; the page shows: {text}");
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// A PNG of the page, kept as a test artifact in `target/test-artifacts`.
    pub async fn screenshot(&mut self, name: &str) -> std::path::PathBuf {
        let shot = self
            .page_command("Page.captureScreenshot", json!({ "format": "png" }))
            .await;
        use base64::Engine;
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap_or_default())
            .expect("a base64 PNG");
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts");
        std::fs::create_dir_all(&dir).expect("the artifact folder");
        let path = dir.join(name);
        std::fs::write(&path, png).expect("the screenshot is written");
        path
    }

    pub async fn close(mut self) {
        let close = json!({ "id": 0, "method": "Browser.close", "params": {} });
        let _ = self.socket.send(Message::text(close.to_string())).await;
        if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}
