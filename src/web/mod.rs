//! The pages the binary serves, and their assets, embedded at compile time:
//! GraphiQL (vendored, so it works without internet access) and the live
//! program board. No CDN and no build step: the board is hand-written ES
//! modules and CSS, and talks to the public GraphQL API like any client.

use std::{path::PathBuf, sync::Arc};

use axum::{
    Router,
    extract::Path,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};

/// One embedded file.
struct Asset {
    path: &'static str,
    mime: &'static str,
    body: &'static [u8],
}

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// An embedded file: its path under `/assets/` (and in this folder) and type.
macro_rules! asset {
    ($path:literal, $mime:expr) => {
        Asset {
            path: $path,
            mime: $mime,
            body: include_bytes!($path),
        }
    };
}

/// Everything under `/assets/`.
const ASSETS: &[Asset] = &[
    asset!("board.js", JS),
    asset!("board.css", CSS),
    asset!("live.js", JS),
    asset!("graphiql.js", JS),
    asset!("vendor/graphiql.min.js", JS),
    asset!("vendor/graphiql.min.css", CSS),
    asset!("vendor/react.production.min.js", JS),
    asset!("vendor/react-dom.production.min.js", JS),
    asset!("vendor/LICENSES.txt", "text/plain; charset=utf-8"),
];

/// The routes of the pages and their assets: the embedded copies, or with
/// `dir` (`--assets-dir`, for working on the page) the files in that folder.
pub fn routes<S: Clone + Send + Sync + 'static>(dir: Option<PathBuf>) -> Router<S> {
    let dir = dir.map(Arc::new);
    let on_disk = dir.clone();
    Router::new()
        .route("/board", get(move || board(on_disk.clone())))
        .route(
            "/assets/{*path}",
            get(move |path: Path<String>| asset(path, dir.clone())),
        )
}

/// A file of the assets folder, read afresh. Only names of embedded files
/// are read, so a request cannot reach outside the folder.
async fn from_disk(dir: &std::path::Path, name: &str) -> Option<Vec<u8>> {
    tokio::fs::read(dir.join(name)).await.ok()
}

/// `GET /graphql` from a browser: GraphiQL, served from the binary.
pub async fn graphiql() -> Response {
    page(include_str!("graphiql.html"))
}

/// `GET /board?program=…&increment=…&kiosk=1#token=…`: the program board.
/// The page reads its parameters itself; the token stays in the fragment,
/// which browsers never send, so it reaches no server log.
async fn board(dir: Option<Arc<PathBuf>>) -> Response {
    if let Some(dir) = dir
        && let Some(html) = from_disk(&dir, "board.html").await
    {
        return page(String::from_utf8_lossy(&html).into_owned());
    }
    page(include_str!("board.html"))
}

fn page(html: impl IntoResponse) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        html,
    )
        .into_response()
}

async fn asset(Path(path): Path<String>, dir: Option<Arc<PathBuf>>) -> Response {
    let Some(found) = ASSETS.iter().find(|a| a.path == path) else {
        return (StatusCode::NOT_FOUND, "no such asset").into_response();
    };
    let body = match dir {
        Some(dir) => from_disk(&dir, found.path).await,
        None => None,
    };
    // Vendored files change only with the binary; the page's own files are
    // revalidated so that an upgrade shows at once.
    let cache = if path.starts_with("vendor/") {
        "public, max-age=86400"
    } else {
        "no-cache"
    };
    let mut response = match body {
        Some(body) => body.into_response(),
        None => found.body.into_response(),
    };
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(found.mime));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_of(response: Response) -> (StatusCode, Vec<u8>) {
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("a body");
        (status, bytes.to_vec())
    }

    #[tokio::test]
    async fn an_assets_folder_serves_its_files_and_nothing_outside_the_embedded_names() {
        let dir = tempfile::tempdir().expect("a folder");
        std::fs::write(dir.path().join("board.css"), "/* edited */").expect("written");
        std::fs::write(dir.path().join("secret.txt"), "no").expect("written");
        let dir = Some(Arc::new(dir.path().to_path_buf()));

        let (status, body) = body_of(asset(Path("board.css".into()), dir.clone()).await).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, b"/* edited */");
        // Not in the folder: the embedded copy.
        let (_, body) = body_of(asset(Path("live.js".into()), dir.clone()).await).await;
        assert_eq!(body, include_bytes!("live.js"));
        // Only embedded names are read.
        for name in ["secret.txt", "../Cargo.toml"] {
            let (status, _) = body_of(asset(Path(name.into()), dir.clone()).await).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{name}");
        }
        // Without a folder: the embedded copies.
        let (_, body) = body_of(asset(Path("board.css".into()), None).await).await;
        assert_eq!(body, include_bytes!("board.css"));
    }

    #[test]
    fn every_asset_is_named_once_and_pages_name_only_embedded_assets() {
        let mut seen = std::collections::HashSet::new();
        for a in ASSETS {
            assert!(seen.insert(a.path), "{} twice", a.path);
            assert!(!a.body.is_empty(), "{} is empty", a.path);
        }
        for html in [include_str!("graphiql.html"), include_str!("board.html")] {
            assert!(!html.contains("https://"), "a page loads from outside");
            for part in html.split("/assets/").skip(1) {
                let name: String = part.chars().take_while(|c| *c != '"').collect();
                assert!(seen.contains(name.as_str()), "{name} is not embedded");
            }
        }
    }
}
