//! A word diff of two texts, for the side-by-side view of two versions: the
//! words only the old text has, the words only the new one has, and the
//! rest. Pure, so it is tested here and runs the same in the browser and on
//! the server.

/// What a run of text is in the comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Same,
    Removed,
    Added,
}

/// Consecutive tokens with the same fate, joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub change: Change,
    pub text: String,
}

/// Past this many token pairs the texts are compared as wholes: the table
/// of common subsequences grows with the product of their lengths.
const MAX_CELLS: usize = 1_000_000;

/// Words and the whitespace between them, as separate tokens, so the
/// segments put back together give both texts exactly.
fn tokens(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut in_space = None;
    for (i, c) in text.char_indices() {
        let space = c.is_whitespace();
        if in_space.is_some_and(|s| s != space) {
            out.push(&text[start..i]);
            start = i;
        }
        in_space = Some(space);
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

/// The segments that turn `old` into `new`: the old text is the `Same` and
/// `Removed` segments in order, the new text the `Same` and `Added` ones.
pub fn word_diff(old: &str, new: &str) -> Vec<Segment> {
    let (a, b) = (tokens(old), tokens(new));
    if a.len().saturating_mul(b.len()) > MAX_CELLS {
        return whole(old, new);
    }
    // lcs[i][j]: length of the longest common subsequence of a[i..], b[j..].
    let mut lcs = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut out = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            push(&mut out, Change::Same, a[i]);
            (i, j) = (i + 1, j + 1);
        } else if j == b.len() || (i < a.len() && lcs[i + 1][j] >= lcs[i][j + 1]) {
            push(&mut out, Change::Removed, a[i]);
            i += 1;
        } else {
            push(&mut out, Change::Added, b[j]);
            j += 1;
        }
    }
    out
}

fn whole(old: &str, new: &str) -> Vec<Segment> {
    if old == new {
        return vec![segment(Change::Same, old)];
    }
    [(Change::Removed, old), (Change::Added, new)]
        .into_iter()
        .filter(|(_, text)| !text.is_empty())
        .map(|(change, text)| segment(change, text))
        .collect()
}

fn segment(change: Change, text: &str) -> Segment {
    Segment {
        change,
        text: text.to_owned(),
    }
}

/// Appends a token, joining it to the last segment when that has the same
/// fate. (On a tie the walk above takes removals first, so a replaced
/// phrase reads as one removal, then one addition.)
fn push(out: &mut Vec<Segment>, change: Change, token: &str) {
    match out.last_mut() {
        Some(last) if last.change == change => last.text.push_str(token),
        _ => out.push(segment(change, token)),
    }
}

/// The segments one side of a side-by-side view shows: the old side leaves
/// out what was added, the new side what was removed.
pub fn side(segments: &[Segment], old_side: bool) -> Vec<Segment> {
    let hidden = if old_side {
        Change::Added
    } else {
        Change::Removed
    };
    let mut out: Vec<Segment> = Vec::new();
    for s in segments.iter().filter(|s| s.change != hidden) {
        push(&mut out, s.change, &s.text);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_of(segments: &[Segment], old_side: bool) -> String {
        side(segments, old_side)
            .iter()
            .map(|s| s.text.as_str())
            .collect()
    }

    fn changed(segments: &[Segment], change: Change) -> Vec<&str> {
        segments
            .iter()
            .filter(|s| s.change == change)
            .map(|s| s.text.as_str())
            .collect()
    }

    #[test]
    fn equal_texts_are_one_unchanged_segment() {
        let d = word_diff("Fracture of femur", "Fracture of femur");
        assert_eq!(d, vec![segment(Change::Same, "Fracture of femur")]);
    }

    #[test]
    fn an_inserted_phrase_is_the_only_addition() {
        let d = word_diff("Fracture of femur", "Fracture of neck of femur");
        assert_eq!(changed(&d, Change::Added), ["neck of "]);
        assert!(changed(&d, Change::Removed).is_empty());
    }

    #[test]
    fn a_replaced_word_is_one_removal_and_one_addition() {
        let d = word_diff("Closed fracture of femur", "Open fracture of femur");
        assert_eq!(changed(&d, Change::Removed), ["Closed"]);
        assert_eq!(changed(&d, Change::Added), ["Open"]);
    }

    #[test]
    fn each_side_puts_its_own_text_back_together_exactly() {
        let cases = [
            ("", "Cholera"),
            ("Cholera", ""),
            ("  two  spaces ", "two spaces"),
            ("a b c d", "d c b a"),
            ("Fémur cassé, côté gauche", "Fémur cassé côté droit"),
            ("x\ty\nz", "x y z"),
        ];
        for (old, new) in cases {
            let d = word_diff(old, new);
            assert_eq!(text_of(&d, true), old, "old side of {old:?} → {new:?}");
            assert_eq!(text_of(&d, false), new, "new side of {old:?} → {new:?}");
        }
    }

    #[test]
    fn the_old_side_shows_no_additions_and_the_new_side_no_removals() {
        let d = word_diff("Closed fracture", "Open fracture");
        assert!(side(&d, true).iter().all(|s| s.change != Change::Added));
        assert!(side(&d, false).iter().all(|s| s.change != Change::Removed));
    }

    #[test]
    fn huge_texts_are_compared_as_wholes() {
        let old = "a ".repeat(1200);
        let new = "b ".repeat(1200);
        let d = word_diff(&old, &new);
        assert_eq!(
            d,
            vec![segment(Change::Removed, &old), segment(Change::Added, &new)]
        );
    }
}
