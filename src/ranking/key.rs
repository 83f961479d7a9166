//! Rank keys: strings whose byte order is the backlog order (fractional
//! indexing, as in LexoRank). A move computes one new key strictly between
//! its new neighbours and writes one row; nothing else is renumbered.
//!
//! Keys use the digits `0-9a-z` (base 36), read as a fraction `0.k1k2k3…`,
//! and never end in `0`, so there is always room before any key. Inserting
//! again and again at one spot makes keys longer (about one character per
//! five inserts); past [`MAX_LEN`] the caller respaces its list with
//! [`spread`], which keeps the order and makes every key short again.
//!
//! Pure: no storage, no I/O.

/// The digits, in order.
const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
const BASE: u8 = 36;

/// The longest key [`between`] may return before the list should be respaced.
pub const MAX_LEN: usize = 48;

fn value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'z' => Some(c - b'a' + 10),
        _ => None,
    }
}

/// Whether `key` is a well-formed rank key.
pub fn is_valid(key: &str) -> bool {
    !key.is_empty() && key.bytes().all(|c| value(c).is_some()) && !key.ends_with('0')
}

/// The digits of a key; empty for "the start".
fn digits(key: &str) -> Vec<u8> {
    key.bytes().filter_map(value).collect()
}

fn text(digits: &[u8]) -> String {
    digits
        .iter()
        .map(|d| DIGITS[usize::from(*d)] as char)
        .collect()
}

/// A key strictly between `lo` and `hi`; `None` stands for the start or the
/// end of the list. `None` is returned when `lo >= hi` or a key is malformed.
pub fn between(lo: Option<&str>, hi: Option<&str>) -> Option<String> {
    if lo.is_some_and(|k| !is_valid(k)) || hi.is_some_and(|k| !is_valid(k)) {
        return None;
    }
    if let (Some(lo), Some(hi)) = (lo, hi)
        && lo >= hi
    {
        return None;
    }
    let lo = lo.map(digits).unwrap_or_default();
    let hi = hi.map(digits);
    Some(text(&midpoint(&lo, hi.as_deref())))
}

/// Digits strictly between `lo` (a fraction; empty is zero) and `hi` (`None`
/// is one). Preconditions: `lo < hi`, neither ends in zero.
fn midpoint(lo: &[u8], hi: Option<&[u8]>) -> Vec<u8> {
    if let Some(hi) = hi {
        // Keep the common prefix (reading missing digits of `lo` as zero).
        let common = hi
            .iter()
            .enumerate()
            .take_while(|(i, d)| lo.get(*i).copied().unwrap_or(0) == **d)
            .count();
        if common > 0 {
            let mut out = hi[..common].to_vec();
            let rest_lo = lo.get(common..).unwrap_or(&[]);
            out.extend(midpoint(rest_lo, Some(&hi[common..])));
            return out;
        }
    }
    let first_lo = lo.first().copied().unwrap_or(0);
    let first_hi = hi.and_then(|h| h.first().copied()).unwrap_or(BASE);
    if first_hi - first_lo > 1 {
        // Room for a digit strictly between: one digit is enough.
        return vec![(first_lo + first_hi).div_ceil(2)];
    }
    match hi {
        // `hi` has more digits: its first digit alone sits between.
        Some(h) if h.len() > 1 => vec![h[0]],
        // Adjacent digits: keep `lo`'s digit and go one level deeper, above `lo`'s rest.
        _ => {
            let mut out = vec![first_lo];
            out.extend(midpoint(lo.get(1..).unwrap_or(&[]), None));
            out
        }
    }
}

/// `n` keys in increasing order, evenly spaced and as short as they can be.
pub fn spread(n: usize) -> Vec<String> {
    if n == 0 {
        return Vec::new();
    }
    // Shortest length whose key space holds n keys with a gap on every side.
    let mut len = 1u32;
    while 36u128.pow(len) < (n as u128 + 1) * 2 {
        len += 1;
    }
    let space = 36u128.pow(len);
    let step = space / (n as u128 + 1);
    (1..=n as u128)
        .map(|i| {
            let mut v = i * step;
            let mut out = vec![0u8; len as usize];
            for slot in out.iter_mut().rev() {
                *slot = (v % 36) as u8;
                v /= 36;
            }
            while out.last() == Some(&0) {
                out.pop();
            }
            text(&out)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn between_open_ends() {
        let first = between(None, None).unwrap();
        assert!(is_valid(&first));
        let before = between(None, Some(&first)).unwrap();
        let after = between(Some(&first), None).unwrap();
        assert!(before < first && first < after, "{before} {first} {after}");
    }

    #[test]
    fn between_adjacent_and_prefixed_keys() {
        for (lo, hi) in [
            ("1", "2"),
            ("1", "11"),
            ("az", "b"),
            ("0001", "0002"),
            ("y", "z"),
            ("zz", "zzz"),
        ] {
            let mid = between(Some(lo), Some(hi)).unwrap();
            assert!(
                lo < mid.as_str() && mid.as_str() < hi,
                "{lo} < {mid} < {hi}"
            );
            assert!(is_valid(&mid));
        }
        assert!(between(Some("zzzz"), None).unwrap().as_str() > "zzzz");
        assert!(between(None, Some("0001")).unwrap().as_str() < "0001");
    }

    #[test]
    fn refuses_bad_bounds() {
        assert_eq!(between(Some("b"), Some("a")), None);
        assert_eq!(between(Some("a"), Some("a")), None);
        assert_eq!(between(Some("a0"), None), None);
        assert_eq!(between(Some("A"), None), None);
        assert_eq!(between(Some(""), None), None);
    }

    #[test]
    fn spread_is_sorted_short_and_valid() {
        for n in [1, 2, 35, 36, 1000, 100_000] {
            let keys = spread(n);
            assert_eq!(keys.len(), n);
            assert!(keys.windows(2).all(|w| w[0] < w[1]), "n = {n}");
            assert!(keys.iter().all(|k| is_valid(k) && k.len() <= 5), "n = {n}");
            // Room before the first and after the last.
            assert!(between(None, Some(&keys[0])).is_some());
            assert!(between(Some(&keys[n - 1]), None).is_some());
        }
    }

    #[test]
    fn many_inserts_at_one_spot_grow_slowly() {
        let (lo, mut hi) = ("1".to_owned(), "2".to_owned());
        for _ in 0..200 {
            hi = between(Some(&lo), Some(&hi)).unwrap();
        }
        assert!(
            hi.len() <= MAX_LEN,
            "{} characters after 200 inserts",
            hi.len()
        );
    }

    /// A move in the model: item `from` goes before or after item `to`.
    #[derive(Debug, Clone)]
    enum Move {
        Before(usize, usize),
        After(usize, usize),
        /// Insert a new item before the item at this index (a hot spot).
        InsertBefore(usize),
    }

    fn moves() -> impl Strategy<Value = Vec<Move>> {
        let one = prop_oneof![
            (0usize..64, 0usize..64).prop_map(|(a, b)| Move::Before(a, b)),
            (0usize..64, 0usize..64).prop_map(|(a, b)| Move::After(a, b)),
            (0usize..4).prop_map(Move::InsertBefore),
        ];
        prop::collection::vec(one, 1..400)
    }

    /// Keys for the model: (item, key) in list order, respaced past MAX_LEN.
    fn place(list: &mut Vec<(usize, String)>, item: usize, at: usize, respaced: &mut usize) {
        let lo = at.checked_sub(1).map(|i| list[i].1.clone());
        let hi = list.get(at).map(|e| e.1.clone());
        let key = between(lo.as_deref(), hi.as_deref()).expect("neighbours are ordered");
        list.insert(at, (item, key.clone()));
        if key.len() > MAX_LEN {
            *respaced += 1;
            let keys = spread(list.len());
            for (entry, k) in list.iter_mut().zip(keys) {
                entry.1 = k;
            }
        }
    }

    proptest! {
        #[test]
        fn keys_follow_a_plain_vector_model(ops in moves()) {
            let mut model: Vec<usize> = (0..8).collect();
            let mut list: Vec<(usize, String)> = model.iter().copied().zip(spread(8)).collect();
            let mut next_item = 8;
            let mut respaced = 0;
            for op in ops {
                match op {
                    Move::Before(a, b) | Move::After(a, b) => {
                        let (a, b) = (model[a % model.len()], model[b % model.len()]);
                        if a == b { continue; }
                        model.retain(|x| *x != a);
                        list.retain(|e| e.0 != a);
                        let pos = model.iter().position(|x| *x == b).unwrap();
                        let at = if matches!(op, Move::Before(..)) { pos } else { pos + 1 };
                        model.insert(at, a);
                        place(&mut list, a, at, &mut respaced);
                    }
                    Move::InsertBefore(i) => {
                        let at = i.min(model.len());
                        model.insert(at, next_item);
                        place(&mut list, next_item, at, &mut respaced);
                        next_item += 1;
                    }
                }
                // Sorting by key gives the model's order; keys stay bounded.
                let mut sorted = list.clone();
                sorted.sort_by(|x, y| x.1.cmp(&y.1));
                let order: Vec<usize> = sorted.iter().map(|e| e.0).collect();
                prop_assert_eq!(&order, &model);
                prop_assert!(list.iter().all(|e| e.1.len() <= MAX_LEN + 1));
                prop_assert!(list.windows(2).all(|w| w[0].1 < w[1].1));
            }
        }
    }

    #[test]
    fn a_long_run_at_one_spot_stays_bounded_with_respacing() {
        let mut list: Vec<(usize, String)> = (0..3).zip(spread(3)).collect();
        let mut respaced = 0;
        for item in 3..3000 {
            place(&mut list, item, 1, &mut respaced);
            assert!(list.iter().all(|e| e.1.len() <= MAX_LEN + 1));
        }
        assert!(list.windows(2).all(|w| w[0].1 < w[1].1));
        // Respacing is rare: one per couple of hundred inserts at a spot.
        assert!(
            respaced > 0 && respaced < 3000 / 100,
            "respaced {respaced} times"
        );
    }
}
