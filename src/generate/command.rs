//! `export --as command`: the launch as one shell line, every value quoted.
//!
//! Environment variables go in front (`VAR=value program ...`); nothing is decided here.

use super::launch::Launch;
use super::shell::{command_line, shell_quote};

pub fn render(launch: &Launch) -> String {
    let mut out = String::new();
    for (k, v) in &launch.env {
        out.push_str(k);
        out.push('=');
        out.push_str(&shell_quote(v));
        out.push(' ');
    }
    out.push_str(&command_line(&launch.program, &launch.args));
    out.push('\n');
    out
}
