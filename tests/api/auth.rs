//! Tokens, the viewer, user creation, and the websocket handshake.

use futures_util::{SinkExt, StreamExt};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest, http::HeaderValue};

use crate::helpers::{ADMIN, TestApp, World, code, str_at};

const CREATE_USER: &str = "mutation($input: CreateUserInput!) { createUser(input: $input) { user { id name email admin } token } }";
const ISSUE_TOKEN: &str =
    "mutation($input: IssueTokenInput!) { issueToken(input: $input) { user { id } token } }";

#[tokio::test]
async fn data_fields_need_a_valid_token_but_introspection_does_not() {
    let app = TestApp::spawn().await;
    for query in ["{ viewer { id } }", "{ programs { totalCount } }"] {
        assert_eq!(
            app.error_code(None, query, json!({})).await,
            "UNAUTHENTICATED"
        );
        assert_eq!(
            app.error_code(Some("pf_not-a-real-token"), query, json!({}))
                .await,
            "UNAUTHENTICATED"
        );
    }
    let node = app
        .gql(None, r#"{ node(id: "VXNlcjox") { id } }"#, json!({}))
        .await;
    assert_eq!(code(&node), "UNAUTHENTICATED");
    let intro = app
        .gql(
            None,
            "{ __schema { queryType { name } } __type(name: \"Program\") { description } }",
            json!({}),
        )
        .await;
    assert_eq!(intro["data"]["__schema"]["queryType"]["name"], "Query");
    assert!(
        intro["data"]["__type"]["description"]
            .as_str()
            .unwrap_or("")
            .contains("Product Manager"),
        "types carry their docs: {intro:#}"
    );
    // A malformed Authorization header is an invalid token, not anonymous.
    let resp = app
        .client
        .post(&app.url)
        .header("authorization", "Basic abc")
        .json(&json!({ "query": "{ viewer { id } }" }))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(code(&resp), "UNAUTHENTICATED");
}

#[tokio::test]
async fn an_admin_creates_users_whose_token_works_once_shown() {
    let app = TestApp::spawn().await;
    let data = app
        .data(
            ADMIN,
            CREATE_USER,
            json!({ "input": { "name": "  Ada  ", "email": "Ada@Example.com", "admin": true } }),
        )
        .await;
    let user = &data["createUser"]["user"];
    assert_eq!(user["name"], "Ada");
    assert_eq!(user["email"], "ada@example.com");
    assert_eq!(user["admin"], true);
    let token = str_at(&data, "/createUser/token");
    assert!(token.len() >= 40, "at least 128 random bits: {token}");
    let viewer = app.data(&token, "{ viewer { id name } }", json!({})).await;
    assert_eq!(viewer["viewer"]["id"], user["id"]);
    // The built-in admin is nobody.
    let viewer = app.data(ADMIN, "{ viewer { id } }", json!({})).await;
    assert!(viewer["viewer"].is_null());
    // An admin user may create users too.
    let bo = app
        .data(
            &token,
            CREATE_USER,
            json!({ "input": { "name": "Bo", "email": "bo@example.com" } }),
        )
        .await;
    assert_eq!(bo["createUser"]["user"]["admin"], false);
    // Tokens are stored only as hashes.
    let store = portfolio::db::Store::connect(&app.settings).await.unwrap();
    let backend = store.conn().get_database_backend();
    let stored: Vec<String> = store
        .conn()
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT token_hash FROM tokens",
        ))
        .await
        .unwrap()
        .iter()
        .map(|row| row.try_get("", "token_hash").unwrap())
        .collect();
    assert_eq!(stored.len(), 2);
    assert!(stored.iter().all(|s| !s.contains(&token) && s.len() == 64));
    assert!(stored.contains(&portfolio::auth::token::hash(&token)));
}

#[tokio::test]
async fn creating_users_is_refused_to_non_admins_and_for_bad_input() {
    let app = TestApp::spawn().await;
    let (_, token) = app.create_user("Plain User").await;
    let input = json!({ "input": { "name": "X", "email": "x@example.com" } });
    assert_eq!(
        app.error_code(Some(&token), CREATE_USER, input).await,
        "FORBIDDEN"
    );
    for (name, email, expected) in [
        ("", "e@example.com", "BAD_USER_INPUT"),
        ("Name", "not-an-email", "BAD_USER_INPUT"),
        ("Twin", "PLAIN.USER@example.com", "CONFLICT"),
    ] {
        let input = json!({ "input": { "name": name, "email": email } });
        assert_eq!(
            app.error_code(Some(ADMIN), CREATE_USER, input).await,
            expected,
            "{name} {email}"
        );
    }
    // The refused ones left nothing behind.
    let data = app
        .data(
            ADMIN,
            CREATE_USER,
            json!({ "input": { "name": "Name", "email": "e@example.com" } }),
        )
        .await;
    assert_eq!(data["createUser"]["user"]["name"], "Name");
}

#[tokio::test]
async fn tokens_are_issued_to_oneself_or_by_an_admin() {
    let app = TestApp::spawn().await;
    let (ann, ann_token) = app.create_user("Ann").await;
    let (bob, _) = app.create_user("Bob").await;
    let mine = app
        .data(
            &ann_token,
            ISSUE_TOKEN,
            json!({ "input": { "userId": ann } }),
        )
        .await;
    let second = str_at(&mine, "/issueToken/token");
    assert_ne!(second, ann_token);
    for token in [&ann_token, &second] {
        let viewer = app.data(token, "{ viewer { id } }", json!({})).await;
        assert_eq!(
            viewer["viewer"]["id"],
            ann.as_str(),
            "both tokens stay valid"
        );
    }
    let other = json!({ "input": { "userId": bob } });
    assert_eq!(
        app.error_code(Some(&ann_token), ISSUE_TOKEN, other.clone())
            .await,
        "FORBIDDEN"
    );
    let by_admin = app.data(ADMIN, ISSUE_TOKEN, other).await;
    assert_eq!(by_admin["issueToken"]["user"]["id"], bob.as_str());
    let unknown = json!({ "input": { "userId": "VXNlcjo5OTk" } });
    assert_eq!(
        app.error_code(Some(ADMIN), ISSUE_TOKEN, unknown).await,
        "NOT_FOUND"
    );
    let malformed = json!({ "input": { "userId": "garbage" } });
    assert_eq!(
        app.error_code(Some(ADMIN), ISSUE_TOKEN, malformed).await,
        "BAD_USER_INPUT"
    );
}

#[tokio::test]
async fn viewer_lists_own_teams_and_programs() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let query = "{ viewer { teams { name } programs { name } } }";
    let member = app.data(&w.member_a.token, query, json!({})).await;
    assert_eq!(member["viewer"]["teams"], json!([{ "name": "Team A" }]));
    assert_eq!(member["viewer"]["programs"], json!([{ "name": "Train" }]));
    let pm = app.data(&w.pm.token, query, json!({})).await;
    assert_eq!(pm["viewer"]["teams"], json!([]));
    assert_eq!(pm["viewer"]["programs"], json!([{ "name": "Train" }]));
    let outsider = app.data(&w.outsider.token, query, json!({})).await;
    assert_eq!(outsider["viewer"], json!({ "teams": [], "programs": [] }));
}

async fn ws_init(app: &TestApp, payload: Value) -> Option<String> {
    let mut request = app.ws_url().into_client_request().unwrap();
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_static("graphql-transport-ws"),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    socket
        .send(Message::text(
            json!({ "type": "connection_init", "payload": payload }).to_string(),
        ))
        .await
        .unwrap();
    let reply = tokio::time::timeout(std::time::Duration::from_secs(60), socket.next())
        .await
        .expect("the server answers connection_init");
    match reply {
        Some(Ok(Message::Text(text))) => {
            let msg: Value = serde_json::from_str(&text).unwrap();
            msg["type"].as_str().map(str::to_owned)
        }
        Some(Ok(Message::Close(frame))) => Some(
            frame
                .map(|f| format!("close {} {}", u16::from(f.code), f.reason))
                .unwrap_or_default(),
        ),
        other => Some(format!("{other:?}")),
    }
}

#[tokio::test]
async fn websocket_authenticates_with_the_connection_init_payload() {
    let app = TestApp::spawn().await;
    let (_, token) = app.create_user("Wes").await;
    let ok = ws_init(&app, json!({ "authorization": format!("Bearer {token}") })).await;
    assert_eq!(ok.as_deref(), Some("connection_ack"));
    let anonymous = ws_init(&app, json!({})).await;
    assert_eq!(anonymous.as_deref(), Some("connection_ack"));
    let bad = ws_init(&app, json!({ "authorization": "Bearer pf_wrong" })).await;
    // A refused connection_init closes with 4403 (graphql-transport-ws).
    assert_eq!(
        bad.as_deref(),
        Some("close 4403 the bearer token is not valid")
    );
}

/// Sends `messages` on a fresh graphql-transport-ws connection and returns
/// the close code the server ends it with (reading past other messages).
async fn close_code_after(app: &TestApp, messages: &[Value]) -> Option<u16> {
    let mut request = app.ws_url().into_client_request().unwrap();
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_static("graphql-transport-ws"),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    for message in messages {
        let text = match message {
            Value::String(raw) => raw.clone(),
            other => other.to_string(),
        };
        socket.send(Message::text(text)).await.unwrap();
    }
    loop {
        let next = tokio::time::timeout(std::time::Duration::from_secs(60), socket.next())
            .await
            .expect("the server answers in time");
        match next {
            Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
            Some(Ok(_)) => continue,
            _ => return None,
        }
    }
}

#[tokio::test]
async fn websocket_protocol_violations_close_with_the_protocols_codes() {
    let app = TestApp::spawn().await;
    let init = json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {ADMIN}") } });
    let subscribe = |id: &str| {
        json!({ "type": "subscribe", "id": id, "payload": {
            "query": "subscription { programEvents(programId: \"UHJvZ3JhbTox\") { event { sequence } } }" } })
    };
    assert_eq!(
        close_code_after(&app, &[json!("{not json")]).await,
        Some(4400)
    );
    assert_eq!(
        close_code_after(&app, &[init.clone(), json!({ "type": "shout" })]).await,
        Some(4400)
    );
    assert_eq!(close_code_after(&app, &[subscribe("1")]).await, Some(4401));
    // A program that exists, so the first subscription keeps running.
    let pm = app.create_user("Pam").await.0;
    let program = app.create_program("Train", &pm).await;
    let live = |id: &str| {
        json!({ "type": "subscribe", "id": id, "payload": {
            "query": "subscription($p: ID!) { programEvents(programId: $p) { event { sequence } } }",
            "variables": { "p": program } } })
    };
    assert_eq!(
        close_code_after(&app, &[init.clone(), live("1"), live("1")]).await,
        Some(4409)
    );
}

#[tokio::test]
async fn the_cli_adds_a_user_and_prints_a_working_token_last() {
    let app = TestApp::spawn().await;
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_portfolio"));
    cmd.args([
        "user",
        "add",
        "--name",
        "Cli User",
        "--email",
        "cli@example.com",
        "--admin",
    ])
    .env("PORTFOLIO_DATABASE_URL", &app.settings.database_url)
    .env_remove("PORTFOLIO_DATABASE_SCHEMA")
    .env("RUST_LOG", "warn");
    if let Some(schema) = &app.settings.database_schema {
        cmd.env("PORTFOLIO_DATABASE_SCHEMA", schema);
    }
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let token = stdout.lines().last().unwrap().trim().to_owned();
    let viewer = app
        .data(&token, "{ viewer { name admin } }", json!({}))
        .await;
    assert_eq!(
        viewer["viewer"],
        json!({ "name": "Cli User", "admin": true })
    );
}
