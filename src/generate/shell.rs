//! POSIX shell quoting: turning argv into one line a shell reads back as the same argv.
//!
//! Values are quoted, never interpreted: spaces, quotes, `$`, backticks, globs and
//! newlines survive. This module builds strings only; it runs nothing.

/// Characters that never need quoting in a POSIX shell word.
fn is_plain(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(c, '_' | '-' | '.' | '/' | ',' | ':' | '@' | '%' | '+' | '=')
}

/// Quotes one word for a POSIX shell: plain words stay as they are, anything else goes
/// in single quotes with `'` written as `'\''`. The empty string becomes `''`.
pub fn shell_quote(s: &str) -> String {
    // A leading '=' or '~' can be special (zsh/tilde expansion); quote those too.
    if !s.is_empty() && s.chars().all(is_plain) && !s.starts_with(['=', '~']) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        if c == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

/// The program and its arguments as one shell line, every word quoted as needed.
pub fn command_line(program: &str, args: &[String]) -> String {
    let mut words = Vec::with_capacity(args.len() + 1);
    words.push(shell_quote(program));
    words.extend(args.iter().map(|a| shell_quote(a)));
    words.join(" ")
}

/// Like [`command_line`], but one argument per line with ` \` continuations, for
/// scripts a person will read. Options stay on the line with their value.
pub fn command_lines(program: &str, args: &[String], indent: &str) -> String {
    let mut lines: Vec<String> = vec![shell_quote(program)];
    let mut i = 0;
    while i < args.len() {
        let mut line = shell_quote(&args[i]);
        let is_opt = args[i].starts_with('-');
        if is_opt {
            if let Some(next) = args.get(i + 1) {
                if !next.starts_with('-') || next.parse::<f64>().is_ok() {
                    line.push(' ');
                    line.push_str(&shell_quote(next));
                    i += 1;
                }
            }
        }
        lines.push(line);
        i += 1;
    }
    lines.join(&format!(" \\\n{indent}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_words_stay_plain() {
        assert_eq!(shell_quote("-ngl"), "-ngl");
        assert_eq!(shell_quote("/models/a-b_c.gguf"), "/models/a-b_c.gguf");
        assert_eq!(shell_quote("blk\\.1=CPU"), "'blk\\.1=CPU'");
    }

    #[test]
    fn hostile_words_are_single_quoted() {
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote("$HOME `id`"), "'$HOME `id`'");
        assert_eq!(shell_quote("a\nb"), "'a\nb'");
        assert_eq!(shell_quote("~x"), "'~x'");
    }

    #[test]
    fn override_tensor_regexes_survive_the_shell() {
        // A per-GPU `-ot` value: alternation `|`, escaped dots, `^`, parentheses.
        let ot = "^blk\\.(3|4|17)\\.ffn_(down|gate|up)_exps\\.=CPU";
        assert_eq!(
            shell_quote(ot),
            "'^blk\\.(3|4|17)\\.ffn_(down|gate|up)_exps\\.=CPU'"
        );
        // Read back by a real POSIX shell as the same single argument.
        let line = command_line("printf", &["%s".to_string(), ot.to_string()]);
        let out = std::process::Command::new("sh")
            .args(["-c", &line])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8(out.stdout).unwrap(), ot);
    }

    #[test]
    fn command_line_quotes_every_word() {
        let args = vec!["-m".to_string(), "my model.gguf".to_string()];
        assert_eq!(
            command_line("llama-server", &args),
            "llama-server -m 'my model.gguf'"
        );
    }

    #[test]
    fn command_lines_keep_options_with_values() {
        let args: Vec<String> = ["-m", "x", "-ngl", "-1", "--mlock", "-c", "8"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            command_lines("s", &args, "  "),
            "s \\\n  -m x \\\n  -ngl -1 \\\n  --mlock \\\n  -c 8"
        );
    }
}
