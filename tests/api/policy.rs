//! The roles table of DESIGN.md, cell by cell: every role × every mutation
//! and read root. A refused write answers the expected code and changes
//! nothing (the program's event log, which every change writes to, keeps
//! its length); an allowed one succeeds, each on a world of its own.

use serde_json::{Value, json};

use crate::helpers::{ADMIN, TestApp, str_at};

/// Who asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Admin,
    Pm,
    /// The PO of team A, the team the actions are mostly about.
    PoA,
    /// The PO of another team of the program.
    PoB,
    MemberA,
    /// A member of another team of the program.
    MemberB,
    /// The PM of another program: part of the server, not of this program.
    Outsider,
    Anonymous,
    /// A board token of this program (a wall screen): reads, never writes.
    Board,
}

const ROLES: [Role; 9] = [
    Role::Admin,
    Role::Pm,
    Role::PoA,
    Role::PoB,
    Role::MemberA,
    Role::MemberB,
    Role::Outsider,
    Role::Anonymous,
    Role::Board,
];

use Role::*;

/// A program with two teams, everything the mutations act on, and a user
/// per role. Names carry a prefix, so several worlds share one server.
struct World {
    tokens: Vec<(Role, String)>,
    ids: Value,
}

impl World {
    async fn build(app: &TestApp, prefix: &str) -> Self {
        let mut tokens = vec![(Admin, ADMIN.to_owned())];
        let mut ids = json!({});
        let mut user = async |role: Role, name: &str| -> String {
            let data = app
                .data(
                    ADMIN,
                    "mutation($input: CreateUserInput!) { createUser(input: $input) { user { id } token } }",
                    json!({ "input": { "name": name, "email": format!("{prefix}.{name}@example.com") } }),
                )
                .await;
            tokens.push((role, str_at(&data, "/createUser/token")));
            str_at(&data, "/createUser/user/id")
        };
        let pm = user(Pm, "pm").await;
        let po_a = user(PoA, "poa").await;
        let po_b = user(PoB, "pob").await;
        let member_a = user(MemberA, "membera").await;
        let member_b = user(MemberB, "memberb").await;
        let outsider = user(Outsider, "outsider").await;
        let bystander = app.create_user(&format!("{prefix} bystander")).await.0;
        let program = app.create_program(&format!("{prefix} train"), &pm).await;
        app.create_program(&format!("{prefix} elsewhere"), &outsider)
            .await;
        let team_a = app.create_team(&program, "A", &po_a).await;
        let team_b = app.create_team(&program, "B", &po_b).await;
        for (team, member) in [(&team_a, &member_a), (&team_b, &member_b)] {
            let resp = app.add_member_as(ADMIN, team, member).await;
            assert!(resp.get("errors").is_none(), "{resp:#}");
        }
        let increment = app
            .create_increment_as(ADMIN, &program, "PI 1", "2026-01-05", 2, 14)
            .await;
        let iteration = str_at(
            &increment,
            "/data/createIncrement/increment/iterations/0/id",
        );
        let increment = str_at(&increment, "/data/createIncrement/increment/id");
        let feature = app.create_feature(&program, "Checkout", json!({})).await;
        let feature_2 = app.create_feature(&program, "Search", json!({})).await;
        let ready = json!({ "points": 3, "acceptanceCriteria": "works" });
        let a1 = app.create_story(&team_a, "a1", ready.clone()).await;
        let a2 = app.create_story(&team_a, "a2", ready.clone()).await;
        let a_done = app.create_story(&team_a, "a done", ready.clone()).await;
        app.walk_story(&a_done, &["READY", "IN_PROGRESS", "DONE"])
            .await;
        let b1 = app.create_story(&team_b, "b1", ready).await;
        let dependency = app.request_dependency(&a1, &b1).await;
        let token_of = |role: Role| {
            tokens
                .iter()
                .find(|(r, _)| *r == role)
                .map(|(_, t)| t.clone())
                .unwrap_or_default()
        };
        let ask = "mutation($input: AskClarificationInput!) { askClarification(input: $input) { clarification { id } } }";
        let open = app
            .data(
                &token_of(MemberB),
                ask,
                json!({ "input": { "storyId": a1, "question": "Which browsers?" } }),
            )
            .await;
        let clarification = str_at(&open, "/askClarification/clarification/id");
        let answered = app
            .data(
                &token_of(MemberB),
                ask,
                json!({ "input": { "storyId": a1, "question": "Which currency?" } }),
            )
            .await;
        let answered = str_at(&answered, "/askClarification/clarification/id");
        app.data(
            ADMIN,
            "mutation($input: AnswerClarificationInput!) { answerClarification(input: $input) { clarification { id } } }",
            json!({ "input": { "clarificationId": answered, "answer": "Euro" } }),
        )
        .await;
        let objective = app
            .data(
                ADMIN,
                "mutation($input: SetObjectiveInput!) { setObjective(input: $input) { objective { id } } }",
                json!({ "input": { "teamId": team_a, "incrementId": increment,
                                   "description": "Pay", "plannedValue": 8, "committed": true } }),
            )
            .await;
        let objective = str_at(&objective, "/setObjective/objective/id");
        app.data(
            ADMIN,
            "mutation($input: AllocateFeatureInput!) { allocateFeature(input: $input) { feature { id } } }",
            json!({ "input": { "featureId": feature_2, "teamId": team_a } }),
        )
        .await;
        let board = app
            .data(
                &token_of(Pm),
                "mutation($input: CreateBoardTokenInput!) { createBoardToken(input: $input) { secret } }",
                json!({ "input": { "programId": program, "label": "wall" } }),
            )
            .await;
        let board = str_at(&board, "/createBoardToken/secret");
        // Only TEAM_CREATED events go to it: none follow, so nothing is sent.
        let webhook = app
            .data(
                ADMIN,
                "mutation($input: CreateWebhookInput!) { createWebhook(input: $input) { webhook { id } } }",
                json!({ "input": { "programId": program, "url": "http://127.0.0.1:9/hook", "kinds": ["TEAM_CREATED"] } }),
            )
            .await;
        let webhook = str_at(&webhook, "/createWebhook/webhook/id");
        let member_tokens = app
            .data(
                &token_of(MemberA),
                "{ viewer { tokens { id } } }",
                json!({}),
            )
            .await;
        let member_token = str_at(&member_tokens, "/viewer/tokens/0/id");
        for (key, value) in [
            ("program", program),
            ("teamA", team_a),
            ("teamB", team_b),
            ("memberA", member_a),
            ("memberB", member_b),
            ("bystander", bystander),
            ("pm", pm),
            ("increment", increment),
            ("iteration", iteration),
            ("feature", feature),
            ("feature2", feature_2),
            ("a1", a1),
            ("a2", a2),
            ("aDone", a_done),
            ("b1", b1),
            ("dependency", dependency),
            ("clarification", clarification),
            ("answered", answered),
            ("objective", objective),
            ("memberAToken", member_token),
            ("webhook", webhook),
            ("prefix", prefix.to_owned()),
        ] {
            ids[key] = json!(value);
        }
        tokens.push((Board, board));
        Self { tokens, ids }
    }

    fn token(&self, role: Role) -> Option<&str> {
        self.tokens
            .iter()
            .find(|(r, _)| *r == role)
            .map(|(_, t)| t.as_str())
    }

    fn id(&self, key: &str) -> &str {
        self.ids[key].as_str().unwrap_or_default()
    }

    /// How long the program's event log is, read by the admin.
    async fn log_length(&self, app: &TestApp) -> i64 {
        let data = app
            .data(
                ADMIN,
                "query($id: ID!) { program(id: $id) { events(first: 0) { totalCount } } }",
                json!({ "id": self.id("program") }),
            )
            .await;
        data["program"]["events"]["totalCount"]
            .as_i64()
            .unwrap_or(-1)
    }
}

/// One mutation: its document, its input in a given world, who may run it,
/// and the code everyone else gets when the program is visible to them.
struct Mutation {
    name: &'static str,
    input: fn(&World) -> Value,
    allowed: &'static [Role],
    /// Admin-only actions refuse outsiders with FORBIDDEN: there is no
    /// program to hide.
    account: bool,
}

/// Tokens are visible to their owner and admins only: everyone else is
/// answered as if the token did not exist.
const HIDDEN: &[&str] = &["revokeToken"];

/// Changes of a program that write no event (tokens are outside the log),
/// yet hide the program from outsiders like any change of it.
const PROGRAM_ACCOUNT: &[&str] = &[
    "createBoardToken",
    "createWebhook",
    "updateWebhook",
    "deleteWebhook",
    "rotateWebhookSecret",
    "redeliverWebhookEvent",
    "replayWebhook",
];

impl Mutation {
    fn document(&self) -> String {
        let input_type = format!("{}{}Input", self.name[..1].to_uppercase(), &self.name[1..]);
        format!(
            "mutation($input: {input_type}!) {{ {}(input: $input) {{ __typename }} }}",
            self.name
        )
    }

    fn expected_refusal(&self, role: Role) -> &'static str {
        match role {
            Anonymous => "UNAUTHENTICATED",
            _ if HIDDEN.contains(&self.name) => "NOT_FOUND",
            Outsider if !self.account || PROGRAM_ACCOUNT.contains(&self.name) => "NOT_FOUND",
            _ => "FORBIDDEN",
        }
    }
}

/// Runs every role against `m`: refused roles on one world, checking that
/// nothing changed; allowed roles each on a fresh world. Returns the cells.
async fn check(m: Mutation) -> usize {
    let app = TestApp::spawn().await;
    let world = World::build(&app, "refused").await;
    let doc = m.document();
    let mut cells = 0;
    for role in ROLES.iter().filter(|r| !m.allowed.contains(r)) {
        let before = world.log_length(&app).await;
        let programs_before = program_count(&app).await;
        let resp = app
            .gql(
                world.token(*role),
                &doc,
                json!({ "input": (m.input)(&world) }),
            )
            .await;
        let code = resp
            .pointer("/errors/0/extensions/code")
            .and_then(Value::as_str);
        assert_eq!(
            code,
            Some(m.expected_refusal(*role)),
            "{} by {role:?}: {resp:#}",
            m.name
        );
        assert!(
            resp["data"].is_null(),
            "{} by {role:?} answered data: {resp:#}",
            m.name
        );
        assert_eq!(
            world.log_length(&app).await,
            before,
            "{} refused to {role:?} changed the program",
            m.name
        );
        assert_eq!(program_count(&app).await, programs_before);
        cells += 1;
    }
    if m.name == "revokeToken" {
        // No refused attempt ended the token.
        let resp = app
            .gql(world.token(MemberA), "{ viewer { id } }", json!({}))
            .await;
        assert!(resp.get("errors").is_none(), "{resp:#}");
    }
    if m.name == "createUser" {
        // No refused attempt left a user behind: the email is still free.
        let resp = app
            .gql(Some(ADMIN), &doc, json!({ "input": (m.input)(&world) }))
            .await;
        assert!(resp.get("errors").is_none(), "{resp:#}");
    }
    for (n, role) in m.allowed.iter().enumerate() {
        let world = World::build(&app, &format!("allowed{n}")).await;
        let before = world.log_length(&app).await;
        let resp = app
            .gql(
                world.token(*role),
                &doc,
                json!({ "input": (m.input)(&world) }),
            )
            .await;
        assert!(
            resp.get("errors").is_none(),
            "{} by {role:?} was refused: {resp:#}",
            m.name
        );
        if !m.account {
            assert!(
                world.log_length(&app).await > before,
                "{} by {role:?} recorded no event",
                m.name
            );
        }
        cells += 1;
    }
    cells
}

async fn program_count(app: &TestApp) -> i64 {
    let data = app
        .data(ADMIN, "{ programs(first: 0) { totalCount } }", json!({}))
        .await;
    data["programs"]["totalCount"].as_i64().unwrap_or(-1)
}

macro_rules! cells {
    ($($test:ident: $name:literal, [$($role:ident),*], $account:expr, |$w:ident| $input:expr;)*) => {$(
        #[tokio::test]
        async fn $test() {
            let cells = check(Mutation {
                name: $name,
                input: |$w: &World| $input,
                allowed: &[$($role),*],
                account: $account,
            })
            .await;
            assert_eq!(cells, ROLES.len());
        }
    )*};
}

cells! {
    create_user: "createUser", [Admin], true,
        |w| json!({ "name": "New", "email": format!("{}.new@example.com", w.id("prefix")) });
    issue_token: "issueToken", [Admin, MemberA], true,
        |w| json!({ "userId": w.id("memberA") });
    revoke_token: "revokeToken", [Admin, MemberA], true,
        |w| json!({ "tokenId": w.id("memberAToken") });
    create_board_token: "createBoardToken", [Admin, Pm], true,
        |w| json!({ "programId": w.id("program"), "label": "Wall" });
    create_webhook: "createWebhook", [Admin, Pm], true,
        |w| json!({ "programId": w.id("program"), "url": "http://127.0.0.1:9/new", "kinds": ["TEAM_CREATED"] });
    update_webhook: "updateWebhook", [Admin, Pm], true,
        |w| json!({ "webhookId": w.id("webhook"), "description": "Changed" });
    delete_webhook: "deleteWebhook", [Admin, Pm], true,
        |w| json!({ "webhookId": w.id("webhook") });
    rotate_webhook_secret: "rotateWebhookSecret", [Admin, Pm], true,
        |w| json!({ "webhookId": w.id("webhook") });
    redeliver_webhook_event: "redeliverWebhookEvent", [Admin, Pm], true,
        |w| json!({ "webhookId": w.id("webhook"), "sequence": 1 });
    replay_webhook: "replayWebhook", [Admin, Pm], true,
        |w| json!({ "webhookId": w.id("webhook"), "afterSequence": 0 });
    create_program: "createProgram", [Admin], true,
        |w| json!({ "name": "Another", "productManagerId": w.id("pm") });
    update_program: "updateProgram", [Admin, Pm], false,
        |w| json!({ "programId": w.id("program"), "vision": "Faster" });
    create_team: "createTeam", [Admin, Pm], false,
        |w| json!({ "programId": w.id("program"), "name": "C", "productOwnerId": w.id("memberB") });
    update_team: "updateTeam", [Admin, Pm], false,
        |w| json!({ "teamId": w.id("teamA"), "name": "A prime" });
    add_team_member: "addTeamMember", [Admin, Pm, PoA], false,
        |w| json!({ "teamId": w.id("teamA"), "userId": w.id("memberB") });
    remove_team_member: "removeTeamMember", [Admin, Pm, PoA], false,
        |w| json!({ "teamId": w.id("teamA"), "userId": w.id("memberA") });
    create_increment: "createIncrement", [Admin, Pm], false,
        |w| json!({ "programId": w.id("program"), "name": "PI 2", "startDate": "2026-03-02",
                    "iterationCount": 2, "iterationLengthDays": 14 });
    create_feature: "createFeature", [Admin, Pm], false,
        |w| json!({ "programId": w.id("program"), "title": "Refunds" });
    update_feature: "updateFeature", [Admin, Pm], false,
        |w| json!({ "featureId": w.id("feature"), "businessValue": 8 });
    rank_feature: "rankFeature", [Admin, Pm], false,
        |w| json!({ "featureId": w.id("feature"), "afterId": w.id("feature2") });
    allocate_feature: "allocateFeature", [Admin, Pm], false,
        |w| json!({ "featureId": w.id("feature"), "teamId": w.id("teamA"), "note": "yours" });
    deallocate_feature: "deallocateFeature", [Admin, Pm], false,
        |w| json!({ "featureId": w.id("feature2"), "teamId": w.id("teamA") });
    set_feature_state: "setFeatureState", [Admin, Pm], false,
        |w| json!({ "featureId": w.id("feature"), "state": "ANALYZING" });
    create_story: "createStory", [Admin, PoA, MemberA], false,
        |w| json!({ "teamId": w.id("teamA"), "title": "a3" });
    update_story: "updateStory", [Admin, PoA, MemberA], false,
        |w| json!({ "storyId": w.id("a1"), "title": "a1 renamed" });
    rank_story: "rankStory", [Admin, PoA], false,
        |w| json!({ "storyId": w.id("a1"), "afterId": w.id("a2") });
    set_story_state: "setStoryState", [Admin, PoA, MemberA], false,
        |w| json!({ "storyId": w.id("a1"), "state": "READY" });
    accept_story: "acceptStory", [Admin, PoA], false,
        |w| json!({ "storyId": w.id("aDone") });
    reject_story: "rejectStory", [Admin, PoA], false,
        |w| json!({ "storyId": w.id("aDone"), "reason": "Not yet" });
    request_dependency: "requestDependency", [Admin, Pm, PoA, MemberA], false,
        |w| json!({ "dependentStoryId": w.id("a2"), "providerStoryId": w.id("b1") });
    commit_dependency: "commitDependency", [Admin, PoB], false,
        |w| json!({ "dependencyId": w.id("dependency"), "iterationId": w.id("iteration") });
    decline_dependency: "declineDependency", [Admin, PoB], false,
        |w| json!({ "dependencyId": w.id("dependency"), "reason": "No room" });
    remove_dependency: "removeDependency", [Admin, Pm, PoA, MemberA], false,
        |w| json!({ "dependencyId": w.id("dependency") });
    ask_clarification: "askClarification", [Admin, Pm, PoA, PoB, MemberA, MemberB], false,
        |w| json!({ "storyId": w.id("b1"), "question": "Why?" });
    answer_clarification: "answerClarification", [Admin, PoA], false,
        |w| json!({ "clarificationId": w.id("clarification"), "answer": "Chrome" });
    resolve_clarification: "resolveClarification", [Admin, PoA, MemberB], false,
        |w| json!({ "clarificationId": w.id("answered") });
    reopen_clarification: "reopenClarification", [Admin, MemberB], false,
        |w| json!({ "clarificationId": w.id("answered"), "reason": "Which one?" });
    set_objective: "setObjective", [Admin, Pm, PoA], false,
        |w| json!({ "teamId": w.id("teamA"), "incrementId": w.id("increment"),
                    "description": "Ship", "plannedValue": 5, "committed": false });
    score_objective: "scoreObjective", [Admin, Pm], false,
        |w| json!({ "objectiveId": w.id("objective"), "actualValue": 6 });
    set_capacity: "setCapacity", [Admin, Pm, PoA], false,
        |w| json!({ "teamId": w.id("teamA"), "iterationId": w.id("iteration"), "points": 20 });
    // Admins may vote as themselves; the built-in admin (the Admin role
    // here) is no person and is refused.
    vote_confidence: "voteConfidence", [PoA, MemberA], false,
        |w| json!({ "incrementId": w.id("increment"), "teamId": w.id("teamA"), "value": 4 });
}

/// The read roots: what each role sees of this program, its stories and
/// its people.
#[tokio::test]
async fn read_roots_show_a_program_only_to_its_people() {
    let app = TestApp::spawn().await;
    let world = World::build(&app, "reads").await;
    let program = world.id("program");
    let mut cells = 0;
    for role in ROLES {
        let token = world.token(role);
        let part_of = !matches!(role, Outsider | Anonymous);
        // A board token is nobody: it has no viewer.
        let a_person = !matches!(role, Admin | Board);
        let reads: [(&str, Value); 6] = [
            (
                "query($id: ID!) { node(id: $id) { id } }",
                json!({ "id": program }),
            ),
            (
                "query($id: ID!) { program(id: $id) { id } }",
                json!({ "id": program }),
            ),
            (
                "query($id: ID!) { node(id: $id) { id } }",
                json!({ "id": world.id("b1") }),
            ),
            (
                "query($id: ID!) { node(id: $id) { id } }",
                json!({ "id": world.id("memberA") }),
            ),
            (
                "{ programs(first: 100) { edges { node { id } } } }",
                json!({}),
            ),
            ("{ viewer { id } }", json!({})),
        ];
        for (i, (query, vars)) in reads.into_iter().enumerate() {
            let resp = app.gql(token, query, vars).await;
            cells += 1;
            if role == Anonymous {
                assert_eq!(
                    resp.pointer("/errors/0/extensions/code")
                        .and_then(Value::as_str),
                    Some("UNAUTHENTICATED"),
                    "read {i} without a token: {resp:#}"
                );
                continue;
            }
            assert!(
                resp.get("errors").is_none(),
                "read {i} by {role:?}: {resp:#}"
            );
            let data = &resp["data"];
            match i {
                0 => assert_eq!(data["node"].is_object(), part_of, "{role:?}: {resp:#}"),
                1 => assert_eq!(data["program"].is_object(), part_of, "{role:?}: {resp:#}"),
                2 => assert_eq!(data["node"].is_object(), part_of, "{role:?}: {resp:#}"),
                3 => assert_eq!(data["node"].is_object(), part_of, "{role:?}: {resp:#}"),
                4 => {
                    let listed = data["programs"]["edges"]
                        .as_array()
                        .is_some_and(|e| e.iter().any(|e| e["node"]["id"] == program));
                    assert_eq!(listed, part_of, "{role:?}: {resp:#}");
                }
                _ => assert_eq!(data["viewer"].is_object(), a_person, "{role:?}: {resp:#}"),
            }
        }
    }
    assert_eq!(cells, ROLES.len() * 6);
}
