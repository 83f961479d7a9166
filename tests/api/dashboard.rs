//! The dashboard query costs the same number of SQL statements whatever the
//! size of the program: every relation goes through a DataLoader.

use serde_json::json;

use crate::helpers::TestApp;

const DASHBOARD: &str = include_str!("../queries/dashboard.graphql");

/// SQL statements the server has sent so far (reads + writes), from /metrics.
async fn statements(app: &TestApp) -> u64 {
    let text = app
        .client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .filter(|l| l.starts_with("portfolio_db_statements{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// Loads a demo program and returns (statements of one dashboard query, teams shown, stories shown).
async fn dashboard_cost(teams: usize, stories: usize) -> (u64, usize, usize) {
    // No periodic log check during the measurement; loader batches gather
    // for 20 ms, so the count does not depend on how fast the machine is.
    let app = TestApp::spawn_with(|s| {
        s.event_poll_ms = 3_600_000;
        s.loader_delay_us = 20_000;
    })
    .await;
    let store = portfolio::db::Store::connect(&app.settings).await.unwrap();
    let txn = store.begin_write().await.unwrap();
    let demo = portfolio::demo::load(&*txn, app.clock_now(), teams, stories)
        .await
        .unwrap();
    txn.commit().await.unwrap();
    let program =
        portfolio::graphql::id::encode(portfolio::graphql::id::Kind::Program, demo.program_id);
    let vars = json!({ "programId": program });
    // Once to warm up, then measured.
    app.data(&demo.pm_token, DASHBOARD, vars.clone()).await;
    let before = statements(&app).await;
    let data = app.data(&demo.pm_token, DASHBOARD, vars).await;
    let after = statements(&app).await;
    let shown_teams = data["program"]["teams"].as_array().unwrap().len();
    let shown_stories = data["program"]["teams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["backlog"]["edges"].as_array().unwrap().len())
        .sum();
    (after - before, shown_teams, shown_stories)
}

#[tokio::test]
async fn the_dashboard_costs_the_same_statements_at_any_size() {
    let (small, small_teams, small_stories) = dashboard_cost(2, 10).await;
    let (large, large_teams, large_stories) = dashboard_cost(20, 100).await;
    assert_eq!((small_teams, small_stories), (2, 20));
    assert_eq!((large_teams, large_stories), (20, 400));
    eprintln!("dashboard statements: {small} (2 x 10), {large} (20 x 100)");
    assert_eq!(
        small, large,
        "statements per dashboard: {small} for 2 x 10, {large} for 20 x 100"
    );
    assert!(small <= 20, "{small} statements");
}
