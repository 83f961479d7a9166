//! Text values checked once at the edge: names, emails and long text.

use crate::error::{AppError, AppResult};

/// Longest name (program, team, user) in characters.
pub const NAME_MAX: usize = 200;
/// Longest long text (vision, descriptions) in characters.
pub const LONG_TEXT_MAX: usize = 10_000;

/// Refuses a NUL character: PostgreSQL cannot store one in text, and no
/// name, email or description needs it.
fn no_nul(field: &str, value: &str) -> AppResult<()> {
    if value.contains('\0') {
        return Err(AppError::bad_input(format!(
            "{field} must not contain a NUL character (\\u0000)"
        )));
    }
    Ok(())
}

/// A trimmed name of 1 to [`NAME_MAX`] characters.
pub fn name(field: &str, value: &str) -> AppResult<String> {
    no_nul(field, value)?;
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(AppError::bad_input(format!("{field} must not be empty")));
    }
    if trimmed.chars().count() > NAME_MAX {
        return Err(AppError::bad_input(format!(
            "{field} must be at most {NAME_MAX} characters"
        )));
    }
    Ok(trimmed.to_owned())
}

/// Free text of at most [`LONG_TEXT_MAX`] characters (may be empty).
pub fn long_text(field: &str, value: &str) -> AppResult<String> {
    no_nul(field, value)?;
    if value.chars().count() > LONG_TEXT_MAX {
        return Err(AppError::bad_input(format!(
            "{field} must be at most {LONG_TEXT_MAX} characters"
        )));
    }
    Ok(value.trim().to_owned())
}

/// Required free text: 1 to [`LONG_TEXT_MAX`] characters after trimming.
pub fn required_text(field: &str, value: &str) -> AppResult<String> {
    let text = long_text(field, value)?;
    if text.is_empty() {
        return Err(AppError::bad_input(format!("{field} must not be empty")));
    }
    Ok(text)
}

/// A plausible email address, lower-cased: one `@`, a local part, a dotted
/// domain, no white space, at most 254 characters.
pub fn email(value: &str) -> AppResult<String> {
    no_nul("email", value)?;
    let email = value.trim().to_lowercase();
    let invalid = || AppError::bad_input(format!("email {value:?} is not a valid address"));
    if email.len() > 254 || email.chars().any(char::is_whitespace) {
        return Err(invalid());
    }
    let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
    let domain_ok = !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.');
    if local.is_empty() || !domain_ok {
        return Err(invalid());
    }
    Ok(email)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_characters_are_refused_naming_the_field() {
        for err in [
            name("title", "a\0b").unwrap_err(),
            long_text("vision", "\0").unwrap_err(),
            required_text("question", "why\0").unwrap_err(),
            email("a\0@example.com").unwrap_err(),
        ] {
            assert_eq!(err.code(), "BAD_USER_INPUT");
            assert!(err.message().contains("NUL"), "{}", err.message());
        }
        assert!(
            name("title", "a\0b")
                .unwrap_err()
                .message()
                .starts_with("title")
        );
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(name("name", "  Team A ").unwrap(), "Team A");
        assert!(name("name", "   ").is_err());
        assert!(name("name", &"x".repeat(NAME_MAX + 1)).is_err());
        assert!(name("name", &"é".repeat(NAME_MAX)).is_ok());
    }

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(email(" Ann@Example.COM ").unwrap(), "ann@example.com");
        for bad in [
            "",
            "ann",
            "ann@",
            "@example.com",
            "ann@example",
            "a b@x.io",
            "a@b@c.io",
            "a@.io",
        ] {
            assert!(email(bad).is_err(), "{bad} accepted");
        }
    }
}
