//! Teams: creation and changes by the PM, membership, and reading them.

use serde_json::json;

use crate::helpers::{ADMIN, TestApp, World, code, str_at};

const UPDATE: &str = "mutation($input: UpdateTeamInput!) { updateTeam(input: $input) { team { name productOwner { name } } } }";
const REMOVE: &str = "mutation($input: RemoveTeamMemberInput!) { removeTeamMember(input: $input) { team { members { name } } } }";

#[tokio::test]
async fn the_pm_creates_teams_with_unique_names() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let created = app
        .create_team_as(&w.pm.token, &w.program, "Team C", &w.po_b.id)
        .await;
    assert_eq!(created["data"]["createTeam"]["team"]["name"], "Team C");
    let dup = app
        .create_team_as(&w.pm.token, &w.program, " Team C ", &w.po_b.id)
        .await;
    assert_eq!(code(&dup), "CONFLICT");
    for token in [&w.po_a.token, &w.member_a.token] {
        let resp = app
            .create_team_as(token, &w.program, "Team D", &w.po_a.id)
            .await;
        assert_eq!(code(&resp), "FORBIDDEN");
    }
    let resp = app
        .create_team_as(&w.outsider.token, &w.program, "Team D", &w.po_a.id)
        .await;
    assert_eq!(code(&resp), "NOT_FOUND");
    let resp = app
        .create_team_as(&w.pm.token, &w.program, "", &w.po_a.id)
        .await;
    assert_eq!(code(&resp), "BAD_USER_INPUT");
    let resp = app
        .create_team_as(&w.pm.token, &w.program, "Team D", "VXNlcjo5OTk")
        .await;
    assert_eq!(code(&resp), "NOT_FOUND");
    // The same name is fine in another program.
    let other = app.create_program("Other", &w.pm.id).await;
    let resp = app
        .create_team_as(ADMIN, &other, "Team C", &w.po_a.id)
        .await;
    assert!(resp.get("errors").is_none(), "{resp:#}");
    // Teams read in name order with their people.
    let data = app
        .data(
            &w.member_a.token,
            "query($id: ID!) { program(id: $id) { teams { name program { name } productOwner { name } members { name } } } }",
            json!({ "id": w.program }),
        )
        .await;
    assert_eq!(
        data["program"]["teams"],
        json!([
            { "name": "Team A", "program": { "name": "Train" }, "productOwner": { "name": "Olga Owner" }, "members": [{ "name": "Mia Member" }] },
            { "name": "Team B", "program": { "name": "Train" }, "productOwner": { "name": "Otto Owner" }, "members": [] },
            { "name": "Team C", "program": { "name": "Train" }, "productOwner": { "name": "Otto Owner" }, "members": [] },
        ])
    );
}

#[tokio::test]
async fn the_pm_renames_teams_and_assigns_their_po() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let data = app
        .data(&w.pm.token, UPDATE, json!({ "input": { "teamId": w.team_a, "name": "Alpha", "productOwnerId": w.member_a.id } }))
        .await;
    assert_eq!(
        data["updateTeam"]["team"],
        json!({ "name": "Alpha", "productOwner": { "name": "Mia Member" } })
    );
    let dup = json!({ "input": { "teamId": w.team_a, "name": "Team B" } });
    assert_eq!(
        app.error_code(Some(&w.pm.token), UPDATE, dup).await,
        "CONFLICT"
    );
    let rename = json!({ "input": { "teamId": w.team_a, "name": "Mine" } });
    // Mia is now team A's PO; POs and members do not change teams.
    for token in [&w.po_b.token, &w.member_a.token] {
        assert_eq!(
            app.error_code(Some(token), UPDATE, rename.clone()).await,
            "FORBIDDEN"
        );
    }
    // Olga is no longer part of the program, like the outsider.
    for token in [&w.po_a.token, &w.outsider.token] {
        assert_eq!(
            app.error_code(Some(token), UPDATE, rename.clone()).await,
            "NOT_FOUND"
        );
    }
    let null_po = json!({ "input": { "teamId": w.team_a, "productOwnerId": null } });
    assert_eq!(
        app.error_code(Some(&w.pm.token), UPDATE, null_po).await,
        "BAD_USER_INPUT"
    );
    // A failed change changes nothing.
    let half =
        json!({ "input": { "teamId": w.team_a, "name": "Half", "productOwnerId": "VXNlcjo5OTk" } });
    assert_eq!(app.error_code(Some(ADMIN), UPDATE, half).await, "NOT_FOUND");
    let read = app
        .data(
            &w.pm.token,
            "query($id: ID!) { node(id: $id) { ... on Team { name } } }",
            json!({ "id": w.team_a }),
        )
        .await;
    assert_eq!(read["node"]["name"], "Alpha");
}

#[tokio::test]
async fn the_pm_and_the_po_manage_members() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let (newbie, newbie_token) = app.create_user("Nina New").await;
    // Not yet part of the program.
    let data = app
        .data(
            &newbie_token,
            "query($id: ID!) { program(id: $id) { id } }",
            json!({ "id": w.program }),
        )
        .await;
    assert!(data["program"].is_null());
    // By ID only people already in the program can be added; someone new
    // comes in by their exact email.
    let by_id = app.add_member_as(&w.po_a.token, &w.team_a, &newbie).await;
    assert_eq!(code(&by_id), "NOT_FOUND", "{by_id:#}");
    let added = app
        .gql(
            Some(&w.po_a.token),
            "mutation($input: AddTeamMemberInput!) { addTeamMember(input: $input) { team { id members { id } } } }",
            json!({ "input": { "teamId": w.team_a, "email": "nina.new@example.com" } }),
        )
        .await;
    assert!(added.get("errors").is_none(), "{added:#}");
    assert_eq!(
        added["data"]["addTeamMember"]["team"]["members"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let data = app
        .data(
            &newbie_token,
            "query($id: ID!) { program(id: $id) { name } }",
            json!({ "id": w.program }),
        )
        .await;
    assert_eq!(data["program"]["name"], "Train");
    assert_eq!(
        code(&app.add_member_as(&w.pm.token, &w.team_a, &newbie).await),
        "CONFLICT"
    );
    for token in [&w.member_a.token, &w.po_b.token] {
        assert_eq!(
            code(&app.add_member_as(token, &w.team_a, &w.po_b.id).await),
            "FORBIDDEN"
        );
    }
    assert_eq!(
        code(
            &app.add_member_as(&w.outsider.token, &w.team_a, &w.outsider.id)
                .await
        ),
        "NOT_FOUND"
    );
    let remove = json!({ "input": { "teamId": w.team_a, "userId": newbie } });
    assert_eq!(
        app.error_code(Some(&w.member_a.token), REMOVE, remove.clone())
            .await,
        "FORBIDDEN"
    );
    let removed = app.data(&w.pm.token, REMOVE, remove.clone()).await;
    assert_eq!(
        removed["removeTeamMember"]["team"]["members"],
        json!([{ "name": "Mia Member" }])
    );
    assert_eq!(
        app.error_code(Some(&w.pm.token), REMOVE, remove).await,
        "NOT_FOUND"
    );
    let team = str_at(&added, "/data/addTeamMember/team/id");
    assert_eq!(team, w.team_a);
}
