//! The cycle check: adding "dependent needs provider" closes a cycle when the
//! provider already needs the dependent, directly or through other stories.
//! A breadth-first search from the provider reads one level of edges at a
//! time (one query per level), never the whole graph.

use std::collections::{HashMap, HashSet, VecDeque};

use crate::error::AppResult;

/// The "needs" edges of a dependency graph, read on demand.
pub trait NeedsGraph {
    /// Every edge (story, needed story) leaving the given stories.
    fn needs(&mut self, from: &[i64]) -> impl Future<Output = AppResult<Vec<(i64, i64)>>> + Send;
}

/// The path provider → … → dependent when one exists (so the new edge would
/// close the cycle dependent → provider → … → dependent); `None` otherwise.
pub async fn closing_path(
    graph: &mut impl NeedsGraph,
    dependent: i64,
    provider: i64,
) -> AppResult<Option<Vec<i64>>> {
    if dependent == provider {
        return Ok(Some(vec![provider]));
    }
    let mut parent: HashMap<i64, i64> = HashMap::new();
    let mut seen: HashSet<i64> = HashSet::from([provider]);
    let mut frontier = vec![provider];
    while !frontier.is_empty() {
        let mut next = Vec::new();
        for (from, to) in graph.needs(&frontier).await? {
            if !seen.insert(to) {
                continue;
            }
            parent.insert(to, from);
            if to == dependent {
                let mut path = VecDeque::from([to]);
                let mut at = to;
                while let Some(&p) = parent.get(&at) {
                    path.push_front(p);
                    at = p;
                }
                return Ok(Some(path.into()));
            }
            next.push(to);
        }
        frontier = next;
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Edges(Vec<(i64, i64)>, usize);

    impl NeedsGraph for Edges {
        async fn needs(&mut self, from: &[i64]) -> AppResult<Vec<(i64, i64)>> {
            self.1 += 1;
            Ok(self
                .0
                .iter()
                .copied()
                .filter(|(a, _)| from.contains(a))
                .collect())
        }
    }

    #[tokio::test]
    async fn finds_the_path_that_a_new_edge_would_close() {
        // 2 needs 3, 3 needs 1: adding "1 needs 2" closes 1 → 2 → 3 → 1.
        let mut g = Edges(vec![(2, 3), (3, 1), (3, 4)], 0);
        assert_eq!(
            closing_path(&mut g, 1, 2).await.unwrap(),
            Some(vec![2, 3, 1])
        );
        assert_eq!(closing_path(&mut g, 4, 1).await.unwrap(), None);
        assert_eq!(closing_path(&mut g, 2, 2).await.unwrap(), Some(vec![2]));
    }

    #[tokio::test]
    async fn reads_one_level_per_query_and_stops_on_a_dag() {
        // A diamond and a long chain: no cycle for "0 needs 1".
        let mut edges: Vec<(i64, i64)> = vec![(1, 2), (1, 3), (2, 4), (3, 4)];
        edges.extend((4..50).map(|i| (i, i + 1)));
        let mut g = Edges(edges, 0);
        assert_eq!(closing_path(&mut g, 0, 1).await.unwrap(), None);
        assert!(g.1 <= 50, "{} queries", g.1);
    }
}
