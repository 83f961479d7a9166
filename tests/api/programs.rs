//! Programs: creation, visibility, changes, pagination.

use serde_json::json;

use crate::helpers::{ADMIN, TestApp, World, str_at};

const CREATE: &str = "mutation($input: CreateProgramInput!) { createProgram(input: $input) { program { id name vision productManager { id } } } }";
const UPDATE: &str = "mutation($input: UpdateProgramInput!) { updateProgram(input: $input) { program { name vision productManager { name } } } }";
const READ: &str = "query($id: ID!) { program(id: $id) { name } node(id: $id) { id } }";

#[tokio::test]
async fn only_admins_create_programs_and_inputs_are_checked() {
    let app = TestApp::spawn().await;
    let (pm, pm_token) = app.create_user("Pam").await;
    let input = |name: &str, pm: &str| json!({ "input": { "name": name, "productManagerId": pm } });
    assert_eq!(
        app.error_code(Some(&pm_token), CREATE, input("P", &pm))
            .await,
        "FORBIDDEN"
    );
    assert_eq!(
        app.error_code(Some(ADMIN), CREATE, input(" ", &pm)).await,
        "BAD_USER_INPUT"
    );
    assert_eq!(
        app.error_code(Some(ADMIN), CREATE, input("P", "nope"))
            .await,
        "BAD_USER_INPUT"
    );
    assert_eq!(
        app.error_code(Some(ADMIN), CREATE, input("P", "VXNlcjo5OTk"))
            .await,
        "NOT_FOUND"
    );
    let too_long =
        json!({ "input": { "name": "P", "vision": "v".repeat(10_001), "productManagerId": pm } });
    assert_eq!(
        app.error_code(Some(ADMIN), CREATE, too_long).await,
        "BAD_USER_INPUT"
    );
    let data = app.data(ADMIN, CREATE, input("Train", &pm)).await;
    let program = &data["createProgram"]["program"];
    assert_eq!(program["name"], "Train");
    assert_eq!(program["vision"], "");
    assert_eq!(program["productManager"]["id"], pm.as_str());
    // Nothing was created by the refused attempts.
    let list = app
        .data(ADMIN, "{ programs { totalCount } }", json!({}))
        .await;
    assert_eq!(list["programs"]["totalCount"], 1);
}

#[tokio::test]
async fn a_program_is_invisible_to_those_not_part_of_it() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let vars = json!({ "id": w.program });
    for token in [
        &w.pm.token,
        &w.po_a.token,
        &w.po_b.token,
        &w.member_a.token,
        &ADMIN.to_owned(),
    ] {
        let data = app.data(token, READ, vars.clone()).await;
        assert_eq!(data["program"]["name"], "Train");
        assert_eq!(data["node"]["id"], w.program.as_str());
        let list = app
            .data(
                token,
                "{ programs { totalCount edges { node { id } } } }",
                json!({}),
            )
            .await;
        assert_eq!(list["programs"]["totalCount"], 1);
    }
    let data = app.data(&w.outsider.token, READ, vars).await;
    assert!(data["program"].is_null() && data["node"].is_null());
    let list = app
        .data(
            &w.outsider.token,
            "{ programs { totalCount edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(list["programs"], json!({ "totalCount": 0, "edges": [] }));
    // Its teams and people are invisible through node too.
    for id in [&w.team_a, &w.pm.id, &w.member_a.id] {
        let data = app
            .data(
                &w.outsider.token,
                "query($id: ID!) { node(id: $id) { id } }",
                json!({ "id": id }),
            )
            .await;
        assert!(data["node"].is_null(), "{id} leaked");
    }
    // ... but people of the program see each other.
    let data = app
        .data(
            &w.member_a.token,
            "query($id: ID!) { node(id: $id) { ... on User { name } } }",
            json!({ "id": w.po_b.id }),
        )
        .await;
    assert_eq!(data["node"]["name"], "Otto Owner");
    // An ID of the wrong kind is bad input, not null.
    assert_eq!(
        app.error_code(Some(&w.pm.token), READ, json!({ "id": w.team_a }))
            .await,
        "BAD_USER_INPUT"
    );
}

#[tokio::test]
async fn the_pm_edits_the_program_and_only_admins_reassign_it() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let vision = app
        .data(
            &w.pm.token,
            UPDATE,
            json!({ "input": { "programId": w.program, "vision": "New vision" } }),
        )
        .await;
    assert_eq!(
        vision["updateProgram"]["program"],
        json!({ "name": "Train", "vision": "New vision", "productManager": { "name": "Pam Manager" } })
    );
    let cleared = app
        .data(
            &w.pm.token,
            UPDATE,
            json!({ "input": { "programId": w.program, "vision": null, "name": "ART" } }),
        )
        .await;
    assert_eq!(cleared["updateProgram"]["program"]["vision"], "");
    assert_eq!(cleared["updateProgram"]["program"]["name"], "ART");
    let rename = json!({ "input": { "programId": w.program, "name": "Mine" } });
    for token in [&w.po_a.token, &w.member_a.token] {
        assert_eq!(
            app.error_code(Some(token), UPDATE, rename.clone()).await,
            "FORBIDDEN"
        );
    }
    assert_eq!(
        app.error_code(Some(&w.outsider.token), UPDATE, rename)
            .await,
        "NOT_FOUND"
    );
    let null_name = json!({ "input": { "programId": w.program, "name": null } });
    assert_eq!(
        app.error_code(Some(&w.pm.token), UPDATE, null_name).await,
        "BAD_USER_INPUT"
    );
    let reassign = json!({ "input": { "programId": w.program, "productManagerId": w.po_b.id } });
    assert_eq!(
        app.error_code(Some(&w.pm.token), UPDATE, reassign.clone())
            .await,
        "FORBIDDEN"
    );
    // A failed change changes nothing: name and PM together, PM unknown.
    let half = json!({ "input": { "programId": w.program, "name": "Half", "productManagerId": "VXNlcjo5OTk" } });
    assert_eq!(app.error_code(Some(ADMIN), UPDATE, half).await, "NOT_FOUND");
    let read = app
        .data(&w.pm.token, READ, json!({ "id": w.program }))
        .await;
    assert_eq!(read["program"]["name"], "ART");
    let done = app.data(ADMIN, UPDATE, reassign).await;
    assert_eq!(
        done["updateProgram"]["program"]["productManager"]["name"],
        "Otto Owner"
    );
    // The former PM is no longer part of the program.
    let gone = app
        .data(&w.pm.token, READ, json!({ "id": w.program }))
        .await;
    assert!(gone["program"].is_null());
}

#[tokio::test]
async fn programs_page_with_cursors_and_checked_sizes() {
    let app = TestApp::spawn_with(|s| {
        s.default_page_size = 2;
        s.max_page_size = 3;
    })
    .await;
    let (pm, _) = app.create_user("Pam").await;
    let mut ids = Vec::new();
    for name in ["P1", "P2", "P3", "P4"] {
        ids.push(app.create_program(name, &pm).await);
    }
    let query = "query($first: Int, $after: String) { programs(first: $first, after: $after) {
        totalCount pageInfo { hasNextPage hasPreviousPage endCursor } edges { cursor node { id name } } } }";
    let first = app.data(ADMIN, query, json!({})).await;
    let page = &first["programs"];
    assert_eq!(page["totalCount"], 4);
    assert_eq!(
        page["edges"].as_array().unwrap().len(),
        2,
        "default page size"
    );
    assert_eq!(page["pageInfo"]["hasNextPage"], true);
    assert_eq!(page["pageInfo"]["hasPreviousPage"], false);
    let after = str_at(page, "/pageInfo/endCursor");
    let second = app
        .data(ADMIN, query, json!({ "first": 3, "after": after }))
        .await;
    let names: Vec<_> = second["programs"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["P3", "P4"]);
    assert_eq!(second["programs"]["pageInfo"]["hasNextPage"], false);
    for bad in [
        json!({ "first": 4 }),
        json!({ "first": -1 }),
        json!({ "after": "garbage" }),
    ] {
        assert_eq!(
            app.error_code(Some(ADMIN), query, bad).await,
            "BAD_USER_INPUT"
        );
    }
}
