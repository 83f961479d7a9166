//! Sample data: a realistic program for newcomers, tests and benchmarks,
//! written in bulk (not through the API), deterministic for a given size.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use entity::{
    clarification, clarification_message, dependency, feature, increment, iteration, objective,
    program, story, team, team_member, user,
};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, EntityTrait};

use crate::{
    error::AppResult,
    events::log::start_counter,
    feature::wsjf::{SCALE, Wsjf},
    increment::schedule,
    ranking::key,
    user::service::issue_token,
};

/// What `demo` created, with tokens to try it.
pub struct Demo {
    pub program_id: i64,
    pub pm_token: String,
    /// (team name, PO token)
    pub po_tokens: Vec<(String, String)>,
    pub member_token: String,
    pub stories: usize,
    pub dependencies: usize,
    pub clarifications: usize,
}

/// A small deterministic generator.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n.max(1) as u64) as usize
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

async fn insert_all<A, C>(conn: &C, rows: Vec<A>) -> AppResult<()>
where
    A: ActiveModelTrait + Send,
    C: ConnectionTrait,
{
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<A> = rows.by_ref().take(500).collect();
        <A::Entity as EntityTrait>::insert_many(chunk)
            .exec(conn)
            .await?;
    }
    Ok(())
}

async fn new_user(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    name: &str,
    email: String,
) -> AppResult<user::Model> {
    Ok(user::ActiveModel {
        name: Set(name.to_owned()),
        email: Set(email),
        admin: Set(false),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(conn)
    .await?)
}

/// Loads a program of `teams` teams with `stories_per_team` stories each.
pub async fn load(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    teams: usize,
    stories_per_team: usize,
) -> AppResult<Demo> {
    let teams = teams.max(1);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (teams as u64) << 20 ^ stories_per_team as u64);
    let tag = now.timestamp_millis();
    let pm = new_user(conn, now, "Pat Manager", format!("pm.{tag}@demo.example")).await?;
    let program = program::ActiveModel {
        name: Set(format!("Demo train ({teams} teams)")),
        vision: Set("Customers check out in one click, on every device.".into()),
        product_manager_id: Set(pm.id),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    start_counter(conn, program.id).await?;

    // Teams with a PO and three members each.
    let mut team_rows = Vec::new();
    let mut members = Vec::new();
    for t in 0..teams {
        let po = new_user(
            conn,
            now,
            &format!("Team {:02} PO", t + 1),
            format!("po{}.{tag}@demo.example", t + 1),
        )
        .await?;
        let row = team::ActiveModel {
            program_id: Set(program.id),
            name: Set(format!("Team {:02}", t + 1)),
            product_owner_id: Set(po.id),
            created_at: Set(now),
            ..Default::default()
        }
        .insert(conn)
        .await?;
        for m in 0..3 {
            let member = new_user(
                conn,
                now,
                &format!("Team {:02} member {}", t + 1, m + 1),
                format!("m{}.{}.{tag}@demo.example", t + 1, m + 1),
            )
            .await?;
            members.push(team_member::ActiveModel {
                team_id: Set(row.id),
                user_id: Set(member.id),
                created_at: Set(now),
            });
        }
        team_rows.push(row);
    }
    let first_member = match members.first().map(|m| m.user_id.clone()) {
        Some(Set(id)) | Some(sea_orm::ActiveValue::Unchanged(id)) => id,
        _ => pm.id,
    };
    insert_all(conn, members).await?;

    // Two increments of five two-week iterations.
    let start = NaiveDate::from_ymd_opt(2026, 1, 5).unwrap_or_default();
    let mut increments = Vec::new();
    let mut iterations: Vec<iteration::Model> = Vec::new();
    for (i, first_day) in [start, start + Duration::days(70)].into_iter().enumerate() {
        let slots = schedule::iterations(first_day, 5, 14)?;
        let inc = increment::ActiveModel {
            program_id: Set(program.id),
            name: Set(format!("PI {}", i + 1)),
            start_date: Set(first_day),
            end_date: Set(slots.last().map_or(first_day, |s| s.end)),
            iteration_count: Set(5),
            iteration_length_days: Set(14),
            created_at: Set(now),
            ..Default::default()
        }
        .insert(conn)
        .await?;
        for slot in slots {
            iterations.push(
                iteration::ActiveModel {
                    increment_id: Set(inc.id),
                    number: Set(slot.number),
                    start_date: Set(slot.start),
                    end_date: Set(slot.end),
                    ..Default::default()
                }
                .insert(conn)
                .await?,
            );
        }
        increments.push(inc);
    }

    // Features: three per team, WSJF estimated, most planned.
    let feature_count = teams * 3;
    let states = [
        "FUNNEL",
        "ANALYZING",
        "BACKLOG",
        "IMPLEMENTING",
        "IMPLEMENTING",
        "DONE",
    ];
    let mut feature_rows = Vec::new();
    for (n, rank_key) in key::spread(feature_count).into_iter().enumerate() {
        let w = Wsjf {
            business_value: rng.pick(&SCALE),
            time_criticality: rng.pick(&SCALE),
            risk_reduction: rng.pick(&SCALE),
            job_size: rng.pick(&SCALE),
        };
        let target = match rng.below(3) {
            0 => None,
            i => Some(increments[(i - 1).min(increments.len() - 1)].id),
        };
        feature_rows.push(feature::ActiveModel {
            program_id: Set(program.id),
            title: Set(format!("Feature {:03}", n + 1)),
            description: Set("A capability customers asked for.".into()),
            state: Set(rng.pick(&states).to_owned()),
            business_value: Set(Some(w.business_value)),
            time_criticality: Set(Some(w.time_criticality)),
            risk_reduction: Set(Some(w.risk_reduction)),
            job_size: Set(Some(w.job_size)),
            wsjf_score: Set(Some(w.score())),
            target_increment_id: Set(target),
            rank_key: Set(rank_key),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        });
    }
    insert_all(conn, feature_rows).await?;
    let features: Vec<i64> = {
        use sea_orm::{ColumnTrait, QueryFilter};
        feature::Entity::find()
            .filter(feature::Column::ProgramId.eq(program.id))
            .all(conn)
            .await?
            .into_iter()
            .map(|f| f.id)
            .collect()
    };

    // Stories across iterations and states.
    let points = [1, 2, 3, 5, 8, 13];
    let keys = key::spread(stories_per_team);
    let mut story_rows = Vec::new();
    for t in &team_rows {
        for (s, rank_key) in keys.iter().enumerate() {
            let planned = rng
                .chance(70)
                .then(|| &iterations[rng.below(iterations.len())]);
            let state = match planned {
                Some(it) if it.start_date < start + Duration::days(28) => {
                    rng.pick(&["ACCEPTED", "ACCEPTED", "DONE", "IN_PROGRESS"])
                }
                Some(_) => rng.pick(&["READY", "READY", "IN_PROGRESS", "DRAFT"]),
                None => rng.pick(&["DRAFT", "DRAFT", "READY"]),
            };
            let ready = state != "DRAFT";
            let ready_at =
                ready.then(|| now - Duration::hours(24 * 30 + rng.below(24 * 20) as i64));
            story_rows.push(story::ActiveModel {
                team_id: Set(t.id),
                feature_id: Set((!rng.chance(10)).then(|| rng.pick(&features))),
                title: Set(format!("{} story {:04}", t.name, s + 1)),
                description: Set("As a customer, I want ...".into()),
                acceptance_criteria: Set(if ready || rng.chance(50) {
                    "Given ... when ... then ...".into()
                } else {
                    String::new()
                }),
                points: Set((ready || rng.chance(50)).then(|| rng.pick(&points))),
                state: Set(state.to_owned()),
                iteration_id: Set(planned.map(|it| it.id)),
                rank_key: Set(rank_key.clone()),
                rejection_reason: Set(None),
                ready_at: Set(ready_at),
                accepted_at: Set((state == "ACCEPTED").then(|| {
                    ready_at.unwrap_or(now) + Duration::hours(rng.below(24 * 10) as i64 + 4)
                })),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            });
        }
    }
    insert_all(conn, story_rows).await?;
    let stories: Vec<story::Model> = {
        use sea_orm::{ColumnTrait, QueryFilter, QueryOrder};
        story::Entity::find()
            .filter(story::Column::TeamId.is_in(team_rows.iter().map(|t| t.id)))
            .order_by_asc(story::Column::Id)
            .all(conn)
            .await?
    };

    // About half a dependency per story, mostly across teams. Edges always
    // go from a later story to an earlier one, so there is no cycle.
    let mut pairs = std::collections::HashSet::new();
    let mut dep_rows = Vec::new();
    for _ in 0..stories.len() / 2 {
        let d = rng.below(stories.len());
        let dependent = &stories[d];
        let candidates: Vec<&story::Model> = if rng.chance(85) {
            stories[..d]
                .iter()
                .filter(|s| s.team_id != dependent.team_id)
                .collect()
        } else {
            stories[..d]
                .iter()
                .filter(|s| s.team_id == dependent.team_id)
                .collect()
        };
        if candidates.is_empty() {
            continue;
        }
        let provider = candidates[rng.below(candidates.len())];
        if !pairs.insert((dependent.id, provider.id)) {
            continue;
        }
        let finished = provider.state == "DONE" || provider.state == "ACCEPTED";
        let state = if finished {
            "RESOLVED"
        } else {
            rng.pick(&[
                "REQUESTED",
                "COMMITTED",
                "COMMITTED",
                "COMMITTED",
                "DECLINED",
            ])
        };
        dep_rows.push(dependency::ActiveModel {
            program_id: Set(program.id),
            dependent_story_id: Set(dependent.id),
            provider_story_id: Set(provider.id),
            state: Set(state.to_owned()),
            resolved_from: Set(finished.then(|| "COMMITTED".to_owned())),
            needed_by_iteration_id: Set(None),
            decline_reason: Set((state == "DECLINED").then(|| "No capacity this PI".to_owned())),
            requested_by_id: Set(Some(pm.id)),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        });
    }
    let dependencies = dep_rows.len();
    insert_all(conn, dep_rows).await?;

    // About half a clarification per story: some open and blocking.
    let mut clar_rows = Vec::new();
    for _ in 0..stories.len() / 2 {
        let s = &stories[rng.below(stories.len())];
        let team = team_rows.iter().find(|t| t.id == s.team_id);
        let about_feature = rng.chance(15) && s.feature_id.is_some();
        let asked = now - Duration::hours(rng.below(24 * 10) as i64 + 1);
        let status = rng.pick(&["OPEN", "ANSWERED", "RESOLVED", "RESOLVED"]);
        let answered =
            (status != "OPEN").then(|| asked + Duration::minutes(rng.below(60 * 48) as i64 + 5));
        clar_rows.push(clarification::ActiveModel {
            program_id: Set(program.id),
            story_id: Set((!about_feature).then_some(s.id)),
            feature_id: Set(if about_feature { s.feature_id } else { None }),
            team_id: Set((!about_feature).then_some(s.team_id)),
            question: Set("Which edge cases are in scope?".into()),
            asker_id: Set(Some(first_member)),
            assignee_id: Set(if about_feature {
                pm.id
            } else {
                team.map_or(pm.id, |t| t.product_owner_id)
            }),
            status: Set(status.to_owned()),
            blocking: Set(rng.chance(20)),
            asked_at: Set(asked),
            answered_at: Set(answered),
            answered_by_id: Set(answered.map(|_| team.map_or(pm.id, |t| t.product_owner_id))),
            resolved_at: Set(
                (status == "RESOLVED").then(|| answered.unwrap_or(asked) + Duration::hours(1))
            ),
            updated_at: Set(now),
            ..Default::default()
        });
    }
    let clarifications = clar_rows.len();
    insert_all(conn, clar_rows).await?;
    let questions: Vec<clarification_message::ActiveModel> = {
        use sea_orm::{ColumnTrait, QueryFilter};
        clarification::Entity::find()
            .filter(clarification::Column::ProgramId.eq(program.id))
            .all(conn)
            .await?
            .into_iter()
            .map(|c| clarification_message::ActiveModel {
                clarification_id: Set(c.id),
                kind: Set("QUESTION".into()),
                body: Set(c.question),
                author_id: Set(c.asker_id),
                at: Set(c.asked_at),
                ..Default::default()
            })
            .collect()
    };
    insert_all(conn, questions).await?;

    // PI objectives: two committed and one stretch per team and increment;
    // the first increment's are scored.
    let mut objectives = Vec::new();
    for t in &team_rows {
        for (i, inc) in increments.iter().enumerate() {
            for (o, committed) in [true, true, false].into_iter().enumerate() {
                let planned = rng.below(10) as i32 + 1;
                objectives.push(objective::ActiveModel {
                    team_id: Set(t.id),
                    increment_id: Set(inc.id),
                    description: Set(format!("Objective {} of {}", o + 1, t.name)),
                    planned_value: Set(planned),
                    actual_value: Set((i == 0).then(|| rng.below(11) as i32)),
                    committed: Set(committed),
                    created_at: Set(now),
                    ..Default::default()
                });
            }
        }
    }
    insert_all(conn, objectives).await?;

    let mut po_tokens = Vec::new();
    for t in &team_rows {
        po_tokens.push((
            t.name.clone(),
            issue_token(conn, now, t.product_owner_id).await?,
        ));
    }
    Ok(Demo {
        program_id: program.id,
        pm_token: issue_token(conn, now, pm.id).await?,
        po_tokens,
        member_token: issue_token(conn, now, first_member).await?,
        stories: stories.len(),
        dependencies,
        clarifications,
    })
}
