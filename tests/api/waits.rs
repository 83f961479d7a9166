//! What waits for whom: each kind of wait enters and leaves the queue of
//! the person it waits on, through the API; the figures on the manual
//! clock; the live updates reach that person only.

use chrono::Duration;
use serde_json::{Value, json};

use crate::helpers::{ADMIN, TestApp, World, WsClient, code, str_at};

const QUEUE: &str = "query($p: ID!) { viewer { waitingOnMe(programId: $p) {
    kind subjectId team { name } waitingOn { name } ageHours action } } }";

async fn queue(app: &TestApp, token: &str, program: &str) -> Vec<(String, String)> {
    let data = app.data(token, QUEUE, json!({ "p": program })).await;
    data["viewer"]["waitingOnMe"]
        .as_array()
        .unwrap_or_else(|| panic!("no queue: {data:#}"))
        .iter()
        .map(|i| {
            (
                i["kind"].as_str().unwrap_or_default().to_owned(),
                i["subjectId"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn item(kind: &str, subject: &str) -> (String, String) {
    (kind.to_owned(), subject.to_owned())
}

async fn mutate(app: &TestApp, token: &str, name: &str, input: Value) -> Value {
    let input_type = format!("{}{}Input", name[..1].to_uppercase(), &name[1..]);
    let resp = app
        .gql(
            Some(token),
            &format!(
                "mutation($input: {input_type}!) {{ {name}(input: $input) {{ __typename }} }}"
            ),
            json!({ "input": input }),
        )
        .await;
    assert!(resp.get("errors").is_none(), "{name}: {resp:#}");
    resp
}

#[tokio::test]
async fn a_question_waits_on_the_assignee_then_on_the_asker_and_comes_back_when_reopened() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let story = app.create_story(&w.team_a, "Card form", json!({})).await;
    let q = app
        .ask_about_story(&w.member_a.token, &story, "Which cards?", false)
        .await;
    app.clock.advance(Duration::hours(2));
    let data = app
        .data(&w.po_a.token, QUEUE, json!({ "p": w.program }))
        .await;
    let first = &data["viewer"]["waitingOnMe"][0];
    assert_eq!(first["kind"], "ANSWER");
    assert_eq!(first["subjectId"], json!(q));
    assert_eq!(first["waitingOn"]["name"], "Olga Owner");
    assert_eq!(first["ageHours"], 2.0);
    assert!(
        first["action"]
            .as_str()
            .unwrap()
            .contains("answerClarification")
    );
    assert!(queue(&app, &w.member_a.token, &w.program).await.is_empty());

    mutate(
        &app,
        &w.po_a.token,
        "answerClarification",
        json!({ "clarificationId": q, "answer": "Visa" }),
    )
    .await;
    assert!(queue(&app, &w.po_a.token, &w.program).await.is_empty());
    assert_eq!(
        queue(&app, &w.member_a.token, &w.program).await,
        vec![item("RESOLUTION", &q)]
    );
    mutate(
        &app,
        &w.member_a.token,
        "reopenClarification",
        json!({ "clarificationId": q, "reason": "And Amex?" }),
    )
    .await;
    assert_eq!(
        queue(&app, &w.po_a.token, &w.program).await,
        vec![item("ANSWER", &q)]
    );
    assert!(queue(&app, &w.member_a.token, &w.program).await.is_empty());
    mutate(
        &app,
        &w.po_a.token,
        "answerClarification",
        json!({ "clarificationId": q, "answer": "Yes" }),
    )
    .await;
    mutate(
        &app,
        &w.member_a.token,
        "resolveClarification",
        json!({ "clarificationId": q }),
    )
    .await;
    assert!(queue(&app, &w.po_a.token, &w.program).await.is_empty());
    assert!(queue(&app, &w.member_a.token, &w.program).await.is_empty());
}

#[tokio::test]
async fn a_rejected_story_leaves_the_acceptance_queue_and_comes_back_when_done_again() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let ready = json!({ "points": 3, "acceptanceCriteria": "works" });
    let story = app.create_story(&w.team_a, "Card form", ready).await;
    app.walk_story(&story, &["READY", "IN_PROGRESS", "DONE"])
        .await;
    assert_eq!(
        queue(&app, &w.po_a.token, &w.program).await,
        vec![item("ACCEPTANCE", &story)]
    );
    mutate(
        &app,
        &w.po_a.token,
        "rejectStory",
        json!({ "storyId": story, "reason": "No errors shown" }),
    )
    .await;
    assert!(queue(&app, &w.po_a.token, &w.program).await.is_empty());
    app.walk_story(&story, &["DONE"]).await;
    assert_eq!(
        queue(&app, &w.po_a.token, &w.program).await,
        vec![item("ACCEPTANCE", &story)]
    );
    mutate(
        &app,
        &w.po_a.token,
        "acceptStory",
        json!({ "storyId": story }),
    )
    .await;
    assert!(queue(&app, &w.po_a.token, &w.program).await.is_empty());
}

#[tokio::test]
async fn decisions_and_breakdowns_wait_on_the_po_and_move_to_a_new_one() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let dependent = app.create_story(&w.team_a, "Checkout", json!({})).await;
    let provider = app.create_story(&w.team_b, "Payments API", json!({})).await;
    let dep = app
        .data(
            &w.member_a.token,
            "mutation($input: RequestDependencyInput!) { requestDependency(input: $input) { dependency { id } } }",
            json!({ "input": { "dependentStoryId": dependent, "providerStoryId": provider } }),
        )
        .await;
    let dep = str_at(&dep, "/requestDependency/dependency/id");
    let feature = app.create_feature(&w.program, "Refunds", json!({})).await;
    mutate(
        &app,
        &w.pm.token,
        "allocateFeature",
        json!({ "featureId": feature, "teamId": w.team_b }),
    )
    .await;
    assert_eq!(
        queue(&app, &w.po_b.token, &w.program).await,
        vec![item("DECISION", &dep), item("BREAKDOWN", &feature)]
    );
    assert!(queue(&app, &w.po_a.token, &w.program).await.is_empty());

    // Team B gets a new PO (someone new to the program, so named by the
    // admin): the queue moves with it.
    let (nina, nina_token) = app.create_user("Nina New").await;
    mutate(
        &app,
        ADMIN,
        "updateTeam",
        json!({ "teamId": w.team_b, "productOwnerId": nina }),
    )
    .await;
    // Otto left the program; the admin sees that nothing waits on him.
    let otto = app
        .data(
            ADMIN,
            "query($u: ID!, $p: ID!) { node(id: $u) { ... on User { waitingOnMe(programId: $p) { kind } } } }",
            json!({ "u": w.po_b.id, "p": w.program }),
        )
        .await;
    assert_eq!(otto["node"]["waitingOnMe"], json!([]));
    assert_eq!(
        queue(&app, &nina_token, &w.program).await,
        vec![item("DECISION", &dep), item("BREAKDOWN", &feature)]
    );

    // Deciding and breaking down empty it.
    mutate(
        &app,
        &nina_token,
        "declineDependency",
        json!({ "dependencyId": dep, "reason": "No room" }),
    )
    .await;
    app.create_story(&w.team_b, "Refund API", json!({ "featureId": feature }))
        .await;
    assert!(queue(&app, &nina_token, &w.program).await.is_empty());

    // Reading someone else's queue takes no more than reading the program;
    // outside it, the program does not exist.
    let other = app
        .data(
            &w.member_a.token,
            "query($u: ID!, $p: ID!) { node(id: $u) { ... on User { waitingOnMe(programId: $p) { kind } } } }",
            json!({ "u": w.po_a.id, "p": w.program }),
        )
        .await;
    assert_eq!(other["node"]["waitingOnMe"], json!([]));
    let resp = app
        .gql(Some(&w.outsider.token), QUEUE, json!({ "p": w.program }))
        .await;
    assert_eq!(code(&resp), "NOT_FOUND");
}

/// The figures of one kind of wait among `of`'s `kinds` (a person's or an
/// iteration's).
fn figures_of<'a>(of: &'a Value, kind: &str) -> &'a Value {
    of["kinds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} figures in {of:#}"))
}

#[tokio::test]
async fn wait_figures_per_person_and_iteration_follow_the_clock() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let pi = app
        .create_increment_as(ADMIN, &w.program, "PI 1", "2026-01-05", 2, 14)
        .await;
    let pi = str_at(&pi, "/data/createIncrement/increment/id");
    let story = app.create_story(&w.team_a, "Card form", json!({})).await;
    // Three questions to PO A, answered after 1, 2 and 10 hours; a fourth
    // stays open.
    let ask = async |question: &str| {
        app.ask_about_story(&w.member_a.token, &story, question, false)
            .await
    };
    for (question, hours) in [("One?", 1), ("Two?", 2), ("Three?", 10)] {
        let q = ask(question).await;
        app.clock.advance(Duration::hours(hours));
        mutate(
            &app,
            &w.po_a.token,
            "answerClarification",
            json!({ "clarificationId": q, "answer": "Yes" }),
        )
        .await;
    }
    ask("Four?").await;
    app.clock.advance(Duration::hours(5));
    // Two weeks later (iteration 2), one more, answered after 4 hours.
    app.clock.advance(Duration::days(14));
    let q = ask("Five?").await;
    app.clock.advance(Duration::hours(4));
    mutate(
        &app,
        &w.po_a.token,
        "answerClarification",
        json!({ "clarificationId": q, "answer": "No" }),
    )
    .await;

    let data = app
        .data(
            &w.member_a.token,
            "query($p: ID!, $i: ID!) { program(id: $p) { waits(incrementId: $i) {
                person { name } productManager teams { name }
                kinds { kind open oldestOpenAgeHours finished medianHours p90Hours }
                iterations { iteration { number } kinds { kind open finished medianHours } } } } }",
            json!({ "p": w.program, "i": pi }),
        )
        .await;
    let people = data["program"]["waits"].as_array().unwrap();
    let names: Vec<&str> = people
        .iter()
        .map(|p| p["person"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Pam Manager", "Olga Owner", "Otto Owner"]);
    assert_eq!(people[0]["productManager"], true);
    let olga = &people[1];
    assert_eq!(olga["teams"], json!([{ "name": "Team A" }]));
    let answer = figures_of(olga, "ANSWER");
    // Finished: 1, 2, 10, 4 hours: median 2 (nearest rank), p90 10.
    assert_eq!(
        answer,
        &json!({ "kind": "ANSWER", "open": 1, "oldestOpenAgeHours": 5.0 + 14.0 * 24.0 + 4.0,
                 "finished": 4, "medianHours": 2.0, "p90Hours": 10.0 })
    );
    let per_iteration: Vec<&Value> = olga["iterations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|it| figures_of(it, "ANSWER"))
        .collect();
    assert_eq!(per_iteration[0]["finished"], 3);
    assert_eq!(per_iteration[0]["medianHours"], 2.0);
    assert_eq!(
        per_iteration[0]["open"], 1,
        "open at the end of iteration 1"
    );
    assert_eq!(per_iteration[1]["finished"], 1);
    assert_eq!(per_iteration[1]["medianHours"], 4.0);

    // "Five?" reopened and answered again after 30 minutes: a second
    // answer is not a first answer, so the figures leave it out. "Six?"
    // is answered after 2 h and half a second, kept to the millisecond.
    mutate(
        &app,
        &w.member_a.token,
        "reopenClarification",
        json!({ "clarificationId": q, "reason": "And Amex?" }),
    )
    .await;
    app.clock.advance(Duration::minutes(30));
    mutate(
        &app,
        &w.po_a.token,
        "answerClarification",
        json!({ "clarificationId": q, "answer": "Also" }),
    )
    .await;
    let q = ask("Six?").await;
    app.clock
        .advance(Duration::hours(2) + Duration::milliseconds(500));
    mutate(
        &app,
        &w.po_a.token,
        "answerClarification",
        json!({ "clarificationId": q, "answer": "Yes" }),
    )
    .await;
    let data = app
        .data(
            &w.member_a.token,
            "query($p: ID!, $i: ID!) { program(id: $p) { waits(incrementId: $i) {
                person { name } kinds { kind finished medianHours p90Hours } } } }",
            json!({ "p": w.program, "i": pi }),
        )
        .await;
    let olga = &data["program"]["waits"][1];
    assert_eq!(olga["person"]["name"], "Olga Owner");
    let answer = figures_of(olga, "ANSWER");
    // Finished: 1, 2, 2 h 0.5 s, 4, 10 hours: the median is the third.
    assert_eq!(
        answer,
        &json!({ "kind": "ANSWER", "finished": 5,
                 "medianHours": 7_200_500.0 / 3_600_000.0, "p90Hours": 10.0 })
    );
}

#[tokio::test]
async fn waiting_updates_reach_the_person_waited_on_only() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let story = app.create_story(&w.team_a, "Card form", json!({})).await;
    let sub =
        "subscription($p: ID!, $after: String) { waitingUpdates(programId: $p, after: $after) {
        change event { kind } item { kind subjectId outcome waitingOn { name } } } }";
    // From the log's last event on: nothing is missed, however late the
    // subscription starts to listen.
    let after = app.last_event_cursor(&w.program).await;
    let mut olga = WsClient::connect(&app, Some(&w.po_a.token)).await;
    olga.subscribe("1", sub, json!({ "p": w.program, "after": after }))
        .await;
    let mut otto = WsClient::connect(&app, Some(&w.po_b.token)).await;
    otto.subscribe("1", sub, json!({ "p": w.program, "after": after }))
        .await;
    // Questions asked by the admin, who waits on nobody.
    let ask = async |story: &str| app.ask_about_story(ADMIN, story, "Why?", false).await;
    let q = ask(&story).await;
    let first = olga.next().await;
    let update = &first["payload"]["data"]["waitingUpdates"];
    assert_eq!(update["change"], "ENTERED", "{first:#}");
    assert_eq!(update["item"]["kind"], "ANSWER");
    assert_eq!(update["item"]["subjectId"], json!(q));
    mutate(
        &app,
        &w.po_a.token,
        "answerClarification",
        json!({ "clarificationId": q, "answer": "Because" }),
    )
    .await;
    let left = olga.next().await;
    let update = &left["payload"]["data"]["waitingUpdates"];
    assert_eq!(update["change"], "LEFT", "{left:#}");
    assert_eq!(update["item"]["outcome"], "ANSWERED");
    // Otto's first update is his own wait, not any of Olga's.
    let theirs = app.create_story(&w.team_b, "Receipts", json!({})).await;
    let q2 = ask(&theirs).await;
    let own = otto.next().await;
    assert_eq!(
        own["payload"]["data"]["waitingUpdates"]["item"]["subjectId"],
        json!(q2),
        "{own:#}"
    );
    assert_eq!(
        own["payload"]["data"]["waitingUpdates"]["item"]["waitingOn"]["name"],
        "Otto Owner"
    );
    olga.close().await;
    otto.close().await;
}

#[tokio::test]
async fn the_program_lists_what_waited_longest_oldest_first() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let story = app.create_story(&w.team_a, "Card form", json!({})).await;
    let first = app
        .ask_about_story(&w.member_a.token, &story, "Which cards?", false)
        .await;
    app.clock.advance(Duration::hours(5));
    let second = app
        .ask_about_story(&w.member_a.token, &story, "Which currencies?", false)
        .await;
    app.clock.advance(Duration::hours(1));
    let oldest = "query($p: ID!, $n: Int!) { program(id: $p) { oldestWaits(first: $n) {
        kind subjectId ageHours waitingOn { name } } } }";
    let data = app
        .data(&w.member_a.token, oldest, json!({ "p": w.program, "n": 3 }))
        .await;
    let items = data["program"]["oldestWaits"].as_array().unwrap();
    let subjects: Vec<&Value> = items.iter().map(|i| &i["subjectId"]).collect();
    assert_eq!(subjects, [&json!(first), &json!(second)], "{data:#}");
    assert_eq!(items[0]["ageHours"], 6.0);
    assert_eq!(items[0]["kind"], "ANSWER");
    let one = app
        .data(&w.member_a.token, oldest, json!({ "p": w.program, "n": 1 }))
        .await;
    assert_eq!(one["program"]["oldestWaits"].as_array().unwrap().len(), 1);
    for n in [-1, 101] {
        let resp = app
            .gql(Some(&w.pm.token), oldest, json!({ "p": w.program, "n": n }))
            .await;
        assert_eq!(code(&resp), "BAD_USER_INPUT", "{resp:#}");
    }
    let hidden = app
        .gql(
            Some(&w.outsider.token),
            oldest,
            json!({ "p": w.program, "n": 3 }),
        )
        .await;
    assert!(hidden["data"]["program"].is_null(), "{hidden:#}");
}
