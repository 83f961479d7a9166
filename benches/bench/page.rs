//! `board-page`: the live board in headless Chromium on a demo program: how
//! long the page takes to show the board, and to apply one change.

use std::time::Instant;

use serde_json::{Value, json};

use super::{BoxError, percentile};
use crate::{
    browser::Browser,
    load::{database_args, gql, seed_demo, start_server},
};

pub async fn board_page(
    database: &str,
    teams: usize,
    stories_per_team: usize,
    loads: usize,
    updates: usize,
) -> Result<(), BoxError> {
    let dir = super::tempfile_dir::Dir::new("page")?;
    let db = database_args(database, &dir.path, "page");
    let seeded = Instant::now();
    let (program, pm) = seed_demo(&db, teams, stories_per_team).await?;
    let seed_secs = seeded.elapsed().as_secs_f64();
    let server = start_server(&db, &["--response-cache-entries", "0"]).await?;
    let client = reqwest::Client::new();
    let base = server.base.clone();

    // The increment with the most cards.
    let increments = gql(
        &client,
        &base,
        &pm,
        "query($p: ID!) { program(id: $p) { increments { id name } } }",
        json!({ "p": program }),
    )
    .await?;
    let mut best: Option<(usize, String, Vec<String>)> = None;
    for inc in increments["program"]["increments"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let id = inc["id"].as_str().unwrap_or_default().to_owned();
        let board = gql(
            &client,
            &base,
            &pm,
            "query($p: ID!, $i: ID!) { program(id: $p) { board(incrementId: $i) { rows { cells { stories { id } } } } } }",
            json!({ "p": program, "i": id }),
        )
        .await?;
        let cards: Vec<String> = board["program"]["board"]["rows"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|r| r["cells"].as_array().cloned().unwrap_or_default())
            .flat_map(|c| c["stories"].as_array().cloned().unwrap_or_default())
            .filter_map(|s| s["id"].as_str().map(str::to_owned))
            .collect();
        if best.as_ref().is_none_or(|(n, _, _)| cards.len() > *n) {
            best = Some((cards.len(), id, cards));
        }
    }
    let (cards, increment, stories) = best.ok_or("the demo has no increment")?;
    println!(
        "board page on {database}: {teams} teams x {stories_per_team} stories, {cards} cards on the board (seeded in {seed_secs:.1} s)"
    );
    let mut browser = Browser::launch()
        .await
        .ok_or("Chromium is needed: apt-get install -y chromium")?;
    let url = format!("{base}/board?program={program}&increment={increment}#token={pm}");

    let mut ready = Vec::new();
    // When each step of a load was reached: the page's own marks, whatever
    // it names them (script, program, board answered, board drawn, ready…).
    let mut steps: Vec<(String, Vec<f64>)> = Vec::new();
    browser.page_command("Performance.enable", json!({})).await;
    for _ in 0..loads {
        browser.goto("about:blank").await;
        browser.goto(&url).await;
        browser
            .wait_for(
                "document.body.dataset.ready === '1' && document.getElementById('status').dataset.state === 'live'",
                120.0,
            )
            .await;
        let ms = browser.eval("window.portfolioBoard.state.readyMs").await;
        ready.push(ms.as_f64().unwrap_or(f64::NAN));
        let marks = browser.eval("window.portfolioBoard.state.marks").await;
        for (step, at) in marks.as_object().into_iter().flatten() {
            let at = at.as_f64().unwrap_or(f64::NAN);
            match steps.iter_mut().find(|(name, _)| name == step) {
                Some((_, values)) => values.push(at),
                None => steps.push((step.clone(), vec![at])),
            }
        }
    }
    let mut medians: Vec<(f64, String)> = steps
        .iter_mut()
        .map(|(step, values)| {
            values.sort_by(f64::total_cmp);
            (percentile(values, 50.0), step.clone())
        })
        .collect();
    medians.sort_by(|a, b| a.0.total_cmp(&b.0));
    let medians: Vec<String> = medians
        .iter()
        .map(|(ms, step)| format!("{step} {ms:.0} ms"))
        .collect();
    println!(
        "a load's steps from navigation, p50: {}",
        medians.join(", ")
    );

    // Where the page's time went over those loads (Chromium's own counters).
    let metrics = browser
        .page_command("Performance.getMetrics", json!({}))
        .await;
    let metric = |name: &str| {
        metrics["metrics"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|m| m["name"] == name)
            .and_then(|m| m["value"].as_f64())
            .unwrap_or(f64::NAN)
    };
    println!(
        "per load: script {:.0} ms, style {:.0} ms, layout {:.0} ms, all tasks {:.0} ms, {:.0} DOM nodes",
        metric("ScriptDuration") * 1000.0 / loads.max(1) as f64,
        metric("RecalcStyleDuration") * 1000.0 / loads.max(1) as f64,
        metric("LayoutDuration") * 1000.0 / loads.max(1) as f64,
        metric("TaskDuration") * 1000.0 / loads.max(1) as f64,
        metric("Nodes"),
    );
    let mut applied = Vec::new();
    let mut seen = Vec::new();
    for n in 0..updates {
        let story = &stories[(n * 7919) % stories.len()];
        let title = format!("Benchmark change {n}");
        let started = Instant::now();
        // As the built-in administrator (`start_server`'s admin token).
        let resp: Value = gql(
            &client,
            &base,
            "bench-admin",
            "mutation($input: UpdateStoryInput!) { updateStory(input: $input) { story { id } } }",
            json!({ "input": { "storyId": story, "title": title } }),
        )
        .await?;
        if resp["updateStory"].is_null() {
            return Err(format!("the change failed: {resp}").into());
        }
        browser
            .wait_for(
                &format!(
                    "document.getElementById('card-' + {}).textContent.includes({}) && !window.portfolioBoard.state.refreshing",
                    json!(story),
                    json!(title)
                ),
                30.0,
            )
            .await;
        seen.push(started.elapsed().as_secs_f64() * 1000.0);
        let ms = browser
            .eval("window.portfolioBoard.state.lastApplyMs")
            .await;
        applied.push(ms.as_f64().unwrap_or(f64::NAN));
    }
    for v in [&mut ready, &mut applied, &mut seen] {
        v.sort_by(f64::total_cmp);
    }
    println!("{:>34} {:>9} {:>9} {:>9}", "", "p50 ms", "p90 ms", "max ms");
    for (label, values) in [
        ("navigation to the whole board", &ready),
        ("one change: event to applied", &applied),
        ("one change: mutation sent to seen", &seen),
    ] {
        println!(
            "{label:>34} {:>9.1} {:>9.1} {:>9.1}",
            percentile(values, 50.0),
            percentile(values, 90.0),
            values.last().copied().unwrap_or(f64::NAN)
        );
    }
    browser.close().await;
    drop(server);
    Ok(())
}
