//! Clarifications: assignment, the conversation and its permissions,
//! reassignment, the readiness rule, reading, and response-time metrics.

use chrono::Duration;
use serde_json::{Value, json};

use crate::helpers::{ADMIN, TestApp, World, code, str_at};

const ASK: &str = "mutation($input: AskClarificationInput!) { askClarification(input: $input) {
    clarification { id status blocking assignee { name } askedBy { name } subject { __typename ... on Story { title } ... on Feature { title } } } } }";
const ANSWER: &str =
    "mutation($input: AnswerClarificationInput!) { answerClarification(input: $input) {
    clarification { status answeredAt answeredBy { name } answer } } }";
const RESOLVE: &str = "mutation($input: ResolveClarificationInput!) { resolveClarification(input: $input) { clarification { status resolvedAt } } }";
const REOPEN: &str = "mutation($input: ReopenClarificationInput!) { reopenClarification(input: $input) { clarification { status } } }";
const READ: &str =
    "query($id: ID!) { node(id: $id) { ... on Clarification { status assignee { name } answeredAt
    messages { kind body author { name } at } } } }";

fn ask_story(story: &str, question: &str, blocking: bool) -> Value {
    json!({ "input": { "storyId": story, "question": question, "blocking": blocking } })
}

fn id_of(resp: &Value) -> String {
    str_at(resp, "/askClarification/clarification/id")
}

#[tokio::test]
async fn questions_go_to_the_po_or_the_pm() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let story = app.create_story(&w.team_a, "Login", json!({})).await;
    let feature = app.create_feature(&w.program, "Checkout", json!({})).await;
    // Anyone on the program asks: here the PO of another team.
    let data = app
        .data(&w.po_b.token, ASK, ask_story(&story, "Which IdP?", true))
        .await;
    assert_eq!(
        data["askClarification"]["clarification"],
        json!({ "id": id_of(&data), "status": "OPEN", "blocking": true, "assignee": { "name": "Olga Owner" },
                "askedBy": { "name": "Otto Owner" }, "subject": { "__typename": "Story", "title": "Login" } })
    );
    let data = app
        .data(
            &w.member_a.token,
            ASK,
            json!({ "input": { "featureId": feature, "question": "Which markets?" } }),
        )
        .await;
    let c = &data["askClarification"]["clarification"];
    assert_eq!(c["assignee"]["name"], "Pam Manager");
    assert_eq!(c["blocking"], false);
    assert_eq!(
        c["subject"],
        json!({ "__typename": "Feature", "title": "Checkout" })
    );
    // Exactly one subject; a question of 1 to 10,000 characters.
    let both = json!({ "input": { "storyId": story, "featureId": feature, "question": "?" } });
    let neither = json!({ "input": { "question": "?" } });
    for input in [
        both,
        neither,
        ask_story(&story, " ", false),
        ask_story(&story, &"q".repeat(10_001), false),
    ] {
        assert_eq!(
            app.error_code(Some(&w.member_a.token), ASK, input).await,
            "BAD_USER_INPUT"
        );
    }
    assert!(
        app.gql(
            Some(&w.member_a.token),
            ASK,
            ask_story(&story, &"q".repeat(10_000), false)
        )
        .await
        .get("errors")
        .is_none()
    );
    assert_eq!(
        app.error_code(Some(&w.outsider.token), ASK, ask_story(&story, "?", false))
            .await,
        "NOT_FOUND"
    );
}

#[tokio::test]
async fn the_assignee_answers_and_the_asker_resolves_or_reopens() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let story = app.create_story(&w.team_a, "Login", json!({})).await;
    let id = id_of(
        &app.data(
            &w.member_a.token,
            ASK,
            ask_story(&story, "Which IdP?", false),
        )
        .await,
    );
    let answer = |text: &str| json!({ "input": { "clarificationId": id, "answer": text } });
    for token in [&w.pm.token, &w.member_a.token, &w.po_b.token] {
        assert_eq!(
            app.error_code(Some(token), ANSWER, answer("x")).await,
            "FORBIDDEN"
        );
    }
    assert_eq!(
        app.error_code(Some(&w.outsider.token), ANSWER, answer("x"))
            .await,
        "NOT_FOUND"
    );
    assert_eq!(
        app.error_code(Some(&w.po_a.token), ANSWER, answer(""))
            .await,
        "BAD_USER_INPUT"
    );
    app.clock.advance(Duration::hours(3));
    let first = app.data(&w.po_a.token, ANSWER, answer("Keycloak")).await;
    let first = &first["answerClarification"]["clarification"];
    assert_eq!(first["status"], "ANSWERED");
    assert_eq!(first["answeredAt"], "2026-01-05T12:00:00+00:00");
    assert_eq!(first["answeredBy"]["name"], "Olga Owner");
    app.clock.advance(Duration::hours(1));
    let second = app
        .data(ADMIN, ANSWER, answer("Keycloak 26, realm 'train'"))
        .await;
    assert_eq!(
        second["answerClarification"]["clarification"]["answeredAt"], "2026-01-05T12:00:00+00:00",
        "the first answer's time"
    );
    assert_eq!(
        second["answerClarification"]["clarification"]["answer"],
        "Keycloak 26, realm 'train'"
    );
    let simple = json!({ "input": { "clarificationId": id } });
    let reopen = |reason: &str| json!({ "input": { "clarificationId": id, "reason": reason } });
    // Only the asker (or admin) reopens; the assignee may not.
    assert_eq!(
        app.error_code(Some(&w.po_a.token), REOPEN, reopen("No"))
            .await,
        "FORBIDDEN"
    );
    app.data(
        &w.member_a.token,
        REOPEN,
        reopen("Which realm for staging?"),
    )
    .await;
    assert_eq!(
        app.error_code(Some(&w.member_a.token), REOPEN, reopen("again"))
            .await,
        "CONFLICT"
    );
    app.data(&w.po_a.token, ANSWER, answer("staging-train"))
        .await;
    // Resolve: asker or assignee, nobody else.
    for token in [&w.pm.token, &w.po_b.token] {
        assert_eq!(
            app.error_code(Some(token), RESOLVE, simple.clone()).await,
            "FORBIDDEN"
        );
    }
    let data = app.data(&w.member_a.token, RESOLVE, simple.clone()).await;
    assert_eq!(
        data["resolveClarification"]["clarification"]["status"],
        "RESOLVED"
    );
    assert_eq!(
        app.error_code(Some(&w.member_a.token), RESOLVE, simple.clone())
            .await,
        "CONFLICT"
    );
    assert_eq!(
        app.error_code(Some(&w.po_a.token), ANSWER, answer("late"))
            .await,
        "CONFLICT"
    );
    // A resolved one can be reopened too; the conversation stays in order.
    app.data(&w.member_a.token, REOPEN, reopen("It changed"))
        .await;
    let data = app.data(&w.member_a.token, READ, json!({ "id": id })).await;
    let kinds: Vec<_> = data["node"]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["kind"].as_str().unwrap().to_owned(),
                m["author"]["name"].as_str().unwrap_or("admin").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("QUESTION", "Mia Member"),
            ("ANSWER", "Olga Owner"),
            ("ANSWER", "admin"),
            ("REOPEN", "Mia Member"),
            ("ANSWER", "Olga Owner"),
            ("REOPEN", "Mia Member")
        ]
        .map(|(k, a)| (k.to_owned(), a.to_owned()))
    );
    assert_eq!(data["node"]["status"], "OPEN");
}

#[tokio::test]
async fn a_new_po_or_pm_takes_over_unresolved_questions() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let story = app.create_story(&w.team_a, "Login", json!({})).await;
    let feature = app.create_feature(&w.program, "Checkout", json!({})).await;
    let open = id_of(
        &app.data(&w.member_a.token, ASK, ask_story(&story, "Open?", false))
            .await,
    );
    let answered = id_of(
        &app.data(
            &w.member_a.token,
            ASK,
            ask_story(&story, "Answered?", false),
        )
        .await,
    );
    let resolved = id_of(
        &app.data(
            &w.member_a.token,
            ASK,
            ask_story(&story, "Resolved?", false),
        )
        .await,
    );
    let on_feature = id_of(
        &app.data(
            &w.member_a.token,
            ASK,
            json!({ "input": { "featureId": feature, "question": "F?" } }),
        )
        .await,
    );
    app.data(
        &w.po_a.token,
        ANSWER,
        json!({ "input": { "clarificationId": answered, "answer": "yes" } }),
    )
    .await;
    app.data(
        &w.po_a.token,
        RESOLVE,
        json!({ "input": { "clarificationId": resolved } }),
    )
    .await;
    app.data(
        &w.pm.token,
        "mutation($input: UpdateTeamInput!) { updateTeam(input: $input) { team { id } } }",
        json!({ "input": { "teamId": w.team_a, "productOwnerId": w.po_b.id } }),
    )
    .await;
    let assignee = |id: String| {
        let app = &app;
        async move {
            app.data(ADMIN, READ, json!({ "id": id })).await["node"]["assignee"]["name"].clone()
        }
    };
    assert_eq!(assignee(open.clone()).await, "Otto Owner");
    assert_eq!(assignee(answered.clone()).await, "Otto Owner");
    assert_eq!(
        assignee(resolved.clone()).await,
        "Olga Owner",
        "resolved ones stay"
    );
    assert_eq!(assignee(on_feature.clone()).await, "Pam Manager");
    // The new PO answers; the old one no longer may.
    let answer = json!({ "input": { "clarificationId": open, "answer": "now me" } });
    assert_eq!(
        app.error_code(Some(&w.po_a.token), ANSWER, answer.clone())
            .await,
        "NOT_FOUND",
        "Olga left the program"
    );
    app.data(&w.po_b.token, ANSWER, answer).await;
    app.data(
        ADMIN,
        "mutation($input: UpdateProgramInput!) { updateProgram(input: $input) { program { id } } }",
        json!({ "input": { "programId": w.program, "productManagerId": w.member_a.id } }),
    )
    .await;
    assert_eq!(assignee(on_feature).await, "Mia Member");
}

#[tokio::test]
async fn an_open_blocking_question_keeps_a_story_out_of_ready() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let story = app
        .create_story(
            &w.team_a,
            "Login",
            json!({ "points": 3, "acceptanceCriteria": "AC" }),
        )
        .await;
    app.data(
        &w.member_a.token,
        ASK,
        ask_story(&story, "Nice to know?", false),
    )
    .await;
    let blocking = id_of(
        &app.data(
            &w.member_a.token,
            ASK,
            ask_story(&story, "Which IdP?", true),
        )
        .await,
    );
    let blocked = || {
        let app = &app;
        let story = story.clone();
        async move {
            app.data(ADMIN, "query($id: ID!) { node(id: $id) { ... on Story { blocked clarifications { status blocking } } } }", json!({ "id": story }))
                .await["node"]["blocked"]
                .clone()
        }
    };
    assert_eq!(blocked().await, true);
    let resp = app
        .set_story_state_as(&w.member_a.token, &story, "READY")
        .await;
    assert_eq!(code(&resp), "CONFLICT");
    let message = resp["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("Which IdP?") && !message.contains("Nice to know"),
        "{message}"
    );
    app.data(
        &w.po_a.token,
        ANSWER,
        json!({ "input": { "clarificationId": blocking, "answer": "Keycloak" } }),
    )
    .await;
    assert_eq!(blocked().await, false);
    let resp = app
        .set_story_state_as(&w.member_a.token, &story, "READY")
        .await;
    assert_eq!(
        resp["data"]["setStoryState"]["story"]["state"], "READY",
        "{resp:#}"
    );
}

#[tokio::test]
async fn clarifications_are_listed_per_program_story_feature_and_inbox() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let story = app.create_story(&w.team_a, "Login", json!({})).await;
    let feature = app.create_feature(&w.program, "Checkout", json!({})).await;
    let q1 = id_of(
        &app.data(&w.member_a.token, ASK, ask_story(&story, "Q1", false))
            .await,
    );
    let q2 = id_of(
        &app.data(
            &w.member_a.token,
            ASK,
            json!({ "input": { "featureId": feature, "question": "Q2" } }),
        )
        .await,
    );
    let q3 = id_of(
        &app.data(&w.po_b.token, ASK, ask_story(&story, "Q3", false))
            .await,
    );
    app.data(
        &w.po_a.token,
        ANSWER,
        json!({ "input": { "clarificationId": q1, "answer": "A1" } }),
    )
    .await;
    let data = app
        .data(
            &w.member_a.token,
            "query($id: ID!, $po: ID!) { program(id: $id) {
                all: clarifications { totalCount edges { node { id } } }
                open: clarifications(statuses: [OPEN]) { totalCount }
                po: clarifications(assigneeId: $po) { totalCount }
                paged: clarifications(first: 1) { pageInfo { hasNextPage } } } }",
            json!({ "id": w.program, "po": w.po_a.id }),
        )
        .await;
    let p = &data["program"];
    let ids: Vec<_> = p["all"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["id"].clone())
        .collect();
    assert_eq!(ids, vec![json!(q1), json!(q2), json!(q3)]);
    assert_eq!(
        (
            p["open"]["totalCount"].clone(),
            p["po"]["totalCount"].clone()
        ),
        (json!(2), json!(2))
    );
    assert_eq!(p["paged"]["pageInfo"]["hasNextPage"], true);
    let inbox = app
        .data(&w.po_a.token, "{ viewer { assignedClarifications { edges { node { question } } } open: assignedClarifications(statuses: [OPEN]) { totalCount } } }", json!({}))
        .await;
    let questions: Vec<_> = inbox["viewer"]["assignedClarifications"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["question"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(questions, ["Q1", "Q3"], "oldest first");
    assert_eq!(inbox["viewer"]["open"]["totalCount"], 1);
    let data = app
        .data(
            &w.member_a.token,
            "query($f: ID!) { node(id: $f) { ... on Feature { clarifications { question } } } }",
            json!({ "f": feature }),
        )
        .await;
    assert_eq!(
        data["node"]["clarifications"],
        json!([{ "question": "Q2" }])
    );
}

#[tokio::test]
async fn response_times_are_measured_on_the_app_clock() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let pi = app.create_increment(&w.program, "PI 1", "2026-01-05").await;
    let story_a = app.create_story(&w.team_a, "A", json!({})).await;
    let story_b = app.create_story(&w.team_b, "B", json!({})).await;
    // Team A's PO answers after 1, 2, 3 and 10 hours; Team B's after 4; one stays open.
    let mut asked = Vec::new();
    for (story, hours) in [
        (&story_a, 1),
        (&story_a, 2),
        (&story_a, 3),
        (&story_a, 10),
        (&story_b, 4),
    ] {
        asked.push((
            id_of(
                &app.data(&w.member_a.token, ASK, ask_story(story, "?", false))
                    .await,
            ),
            story.clone(),
            hours,
        ));
    }
    let open = id_of(
        &app.data(&w.member_a.token, ASK, ask_story(&story_b, "Still?", false))
            .await,
    );
    let mut elapsed = 0;
    let mut order = asked.clone();
    order.sort_by_key(|(_, _, h)| *h);
    for (id, story, hours) in order {
        app.clock.advance(Duration::hours(hours - elapsed));
        elapsed = hours;
        let token = if story == story_a {
            &w.po_a.token
        } else {
            &w.po_b.token
        };
        app.data(
            token,
            ANSWER,
            json!({ "input": { "clarificationId": id, "answer": "!" } }),
        )
        .await;
    }
    app.clock.advance(Duration::hours(14));
    let data = app
        .data(
            &w.pm.token,
            "query($id: ID!, $pi: ID!, $team: ID!) {
                program(id: $id) { metrics(incrementId: $pi) { clarifications {
                    overall { open oldestOpenAgeHours answered medianResponseHours p90ResponseHours }
                    byAssignee { assignee { name } times { open answered medianResponseHours p90ResponseHours } } } } }
                team: node(id: $team) { ... on Team { metrics(incrementId: $pi) { clarifications { overall { open answered medianResponseHours } } } } } }",
            json!({ "id": w.program, "pi": pi, "team": w.team_a }),
        )
        .await;
    let c = &data["program"]["metrics"]["clarifications"];
    assert_eq!(
        c["overall"],
        json!({ "open": 1, "oldestOpenAgeHours": 24.0, "answered": 5, "medianResponseHours": 3.0, "p90ResponseHours": 10.0 })
    );
    assert_eq!(
        c["byAssignee"],
        json!([
            { "assignee": { "name": "Olga Owner" }, "times": { "open": 0, "answered": 4, "medianResponseHours": 2.5, "p90ResponseHours": 10.0 } },
            { "assignee": { "name": "Otto Owner" }, "times": { "open": 1, "answered": 1, "medianResponseHours": 4.0, "p90ResponseHours": 4.0 } },
        ])
    );
    assert_eq!(
        data["team"]["metrics"]["clarifications"]["overall"],
        json!({ "open": 0, "answered": 4, "medianResponseHours": 2.5 })
    );
    let _ = open;
}
