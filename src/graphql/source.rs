//! GraphQL source text as the lexer sees it around strings and comments:
//! what the guard measures and the response cache normalises, without a
//! full parse.

/// A piece of GraphQL source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Piece<'a> {
    /// A `#` comment, up to the end of its line.
    Comment,
    /// A string or block string, quotes and escapes included, as written.
    Str(&'a str),
    /// Any other character.
    Char(char),
}

/// The pieces of `source`, in order. An unterminated string runs to the end
/// (a plain one to the end of its line), as the parser would refuse it anyway.
pub fn pieces(source: &str) -> impl Iterator<Item = Piece<'_>> {
    let mut rest = source;
    std::iter::from_fn(move || {
        let c = rest.chars().next()?;
        let (piece, len) = match c {
            '#' => {
                let end = rest.find(['\n', '\r']).unwrap_or(rest.len());
                (Piece::Comment, end)
            }
            '"' if rest.starts_with("\"\"\"") => {
                let len = block_string_len(rest);
                (Piece::Str(&rest[..len]), len)
            }
            '"' => {
                let len = string_len(rest);
                (Piece::Str(&rest[..len]), len)
            }
            c => (Piece::Char(c), c.len_utf8()),
        };
        rest = &rest[len..];
        Some(piece)
    })
}

/// Bytes of the plain string at the start of `text` (it starts with `"`).
fn string_len(text: &str) -> usize {
    let mut chars = text.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '"' => return i + 1,
            '\n' => return i,
            _ => {}
        }
    }
    text.len()
}

/// Bytes of the block string at the start of `text` (it starts with `"""`).
fn block_string_len(text: &str) -> usize {
    let mut i = 3;
    while i < text.len() {
        if text[i..].starts_with("\\\"\"\"") {
            i += 4;
        } else if text[i..].starts_with("\"\"\"") {
            return i + 3;
        } else {
            i += text[i..].chars().next().map_or(1, char::len_utf8);
        }
    }
    text.len()
}

#[cfg(test)]
mod tests {
    use super::{Piece::*, *};

    #[test]
    fn strings_and_comments_are_whole_pieces() {
        let got: Vec<_> = pieces("a \"b\\\"{\" # c {\n\"\"\"d\"e\\\"\"\"\"\"\" f").collect();
        assert_eq!(
            got,
            vec![
                Char('a'),
                Char(' '),
                Str("\"b\\\"{\""),
                Char(' '),
                Comment,
                Char('\n'),
                Str("\"\"\"d\"e\\\"\"\"\"\"\""),
                Char(' '),
                Char('f'),
            ]
        );
        assert_eq!(pieces("\"open").collect::<Vec<_>>(), vec![Str("\"open")]);
    }
}
