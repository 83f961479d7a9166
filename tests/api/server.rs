//! Operators' routes, limits, GraphiQL, and the exported schema.

use serde_json::{Value, json};

use crate::helpers::{ADMIN, TestApp, code};

#[tokio::test]
async fn health_readiness_and_metrics_answer() {
    let app = TestApp::spawn().await;
    let get = |path: &str| app.client.get(format!("{}{path}", app.base)).send();
    assert_eq!(get("/healthz").await.unwrap().status(), 200);
    assert_eq!(get("/readyz").await.unwrap().status(), 200);
    app.data(
        ADMIN,
        "query Overview { programs { totalCount } }",
        json!({}),
    )
    .await;
    app.error_code(
        None,
        "query Overview { programs { totalCount } }",
        json!({}),
    )
    .await;
    let metrics = get("/metrics").await.unwrap().text().await.unwrap();
    for needle in [
        r#"portfolio_graphql_requests_total{operation="Overview",outcome="ok"} 1"#,
        r#"portfolio_graphql_requests_total{operation="Overview",outcome="UNAUTHENTICATED"} 1"#,
        "portfolio_graphql_request_duration_seconds_bucket",
        "portfolio_graphql_subscriptions_open 0",
        r#"portfolio_db_pool_connections{state="idle"}"#,
        r#"portfolio_db_statements_total{kind="read"}"#,
    ] {
        assert!(metrics.contains(needle), "missing {needle} in\n{metrics}");
    }
}

#[tokio::test]
async fn graphiql_is_served_and_wired_to_the_websocket() {
    let app = TestApp::spawn().await;
    let html = app
        .client
        .get(&app.url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("GraphiQL"));
    assert!(
        !html.contains("https://"),
        "GraphiQL loads nothing from outside"
    );
    // Its script sends subscriptions to the websocket, over the protocol.
    let asset = |path: &str| {
        let url = format!("{}/assets/{path}", app.base);
        let client = app.client.clone();
        async move {
            let resp = client.get(url).send().await.unwrap();
            let status = resp.status().as_u16();
            let kind = resp
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap_or_default().to_owned())
                .unwrap_or_default();
            (status, kind, resp.text().await.unwrap())
        }
    };
    let (status, kind, script) = asset("graphiql.js").await;
    assert_eq!(status, 200);
    assert!(kind.starts_with("text/javascript"), "{kind}");
    assert!(script.contains("/ws"));
    let (_, _, live) = asset("live.js").await;
    assert!(live.contains("graphql-transport-ws"));
    let (status, _, _) = asset("vendor/graphiql.min.js").await;
    assert_eq!(status, 200);
    let (status, _, _) = asset("nothing-here.js").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn deep_queries_are_refused_with_a_clear_error() {
    let app = TestApp::spawn_with(|s| s.max_depth = 4).await;
    let resp = app
        .gql(
            Some(ADMIN),
            "{ viewer { teams { program { teams { name } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(code(&resp), "BAD_USER_INPUT");
    let message = resp["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("nested too deep"), "{message}");
    let ok = app
        .gql(Some(ADMIN), "{ viewer { teams { name } } }", json!({}))
        .await;
    assert!(ok.get("errors").is_none(), "{ok:#}");
}

#[tokio::test]
async fn complex_queries_are_refused_with_a_clear_error() {
    let app = TestApp::spawn_with(|s| s.max_complexity = 50).await;
    // 100 programs asked, each with a few fields: far over 50.
    let resp = app
        .gql(
            Some(ADMIN),
            "{ programs(first: 100) { edges { node { id name vision } } } }",
            json!({}),
        )
        .await;
    assert_eq!(code(&resp), "BAD_USER_INPUT");
    let message = resp["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("complex"), "{message}");
    let ok = app
        .gql(
            Some(ADMIN),
            "{ programs(first: 2) { totalCount } }",
            json!({}),
        )
        .await;
    assert!(ok.get("errors").is_none(), "{ok:#}");
}

#[tokio::test]
async fn large_bodies_and_garbage_are_answered_with_graphql_errors() {
    let app = TestApp::spawn_with(|s| s.max_body_bytes = 1000).await;
    let big = json!({ "query": format!("{{ viewer {{ id }} }} # {}", "x".repeat(2000)) });
    let resp = app
        .client
        .post(&app.url)
        .bearer_auth(ADMIN)
        .json(&big)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(code(&body), "BAD_USER_INPUT");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("larger")
    );
    let resp = app
        .client
        .post(&app.url)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(code(&body), "BAD_USER_INPUT");
    // Syntax and validation errors carry a code too.
    assert_eq!(
        app.error_code(Some(ADMIN), "{ programs { ", json!({}))
            .await,
        "BAD_USER_INPUT"
    );
    assert_eq!(
        app.error_code(Some(ADMIN), "{ nope }", json!({})).await,
        "BAD_USER_INPUT"
    );
}

#[tokio::test]
async fn the_server_stops_gracefully() {
    let app = TestApp::spawn().await;
    app.data(ADMIN, "{ programs { totalCount } }", json!({}))
        .await;
    app.stop().await;
}

#[test]
fn schema_graphql_matches_the_code() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql");
    let on_disk = std::fs::read_to_string(path).expect("schema.graphql exists");
    let sdl = portfolio::graphql::sdl();
    assert!(
        on_disk == sdl,
        "schema.graphql is out of date: run `cargo run -- schema > schema.graphql`"
    );
}
