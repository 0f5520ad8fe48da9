//! Go-style flags on the command line.
//!
//! `vault` parses flags with Go's `flag` package, so scripts write
//! `-format=json`, `-mount=secret`, `-field token`. clap wants two dashes for
//! long flags. Before parsing, every argument of the form `-name` or
//! `-name=value` whose `name` is a long flag of some vault-rs command is
//! rewritten to `--name…`. Anything else (`-`, `-h`, `-5`, values such as
//! `k=-`, unknown words) is left alone, and nothing after `--` is touched.

use std::collections::BTreeSet;
use std::ffi::OsString;

/// Every long flag name defined anywhere in `command`'s tree, plus `help`.
pub fn long_flag_names(command: &clap::Command) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    names.insert("help".to_owned());
    collect_long_names(command, &mut names);
    names
}

fn collect_long_names(command: &clap::Command, names: &mut BTreeSet<String>) {
    for argument in command.get_arguments() {
        if let Some(long) = argument.get_long() {
            names.insert(long.to_owned());
        }
        if let Some(aliases) = argument.get_all_aliases() {
            names.extend(aliases.into_iter().map(str::to_owned));
        }
    }
    for subcommand in command.get_subcommands() {
        collect_long_names(subcommand, names);
    }
}

/// Rewrites single-dash long flags in `args` (program name first) to the
/// double-dash form clap expects.
pub fn normalize(args: Vec<OsString>, long_names: &BTreeSet<String>) -> Vec<OsString> {
    let mut output = Vec::with_capacity(args.len());
    let mut rewriting = true;
    for (index, arg) in args.into_iter().enumerate() {
        if index == 0 || !rewriting {
            output.push(arg);
            continue;
        }
        if arg == "--" {
            rewriting = false;
            output.push(arg);
            continue;
        }
        output.push(rewrite(arg, long_names));
    }
    output
}

fn rewrite(arg: OsString, long_names: &BTreeSet<String>) -> OsString {
    let Some(text) = arg.to_str() else {
        return arg;
    };
    let Some(rest) = text.strip_prefix('-') else {
        return arg;
    };
    if rest.starts_with('-') {
        return arg;
    }
    let name = rest.split_once('=').map_or(rest, |(name, _)| name);
    if name.chars().count() > 1 && long_names.contains(name) {
        return OsString::from(format!("-{text}"));
    }
    arg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Vec<String> {
        let names: BTreeSet<String> = ["format", "mount", "field", "version", "help"]
            .iter()
            .map(|name| (*name).to_owned())
            .collect();
        let args: Vec<OsString> = args.iter().map(OsString::from).collect();
        normalize(args, &names)
            .into_iter()
            .map(|arg| arg.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn single_dash_long_flags_get_two_dashes() {
        assert_eq!(
            run(&[
                "vault-rs",
                "kv",
                "get",
                "-mount=secret",
                "-format",
                "json",
                "foo"
            ]),
            vec![
                "vault-rs",
                "kv",
                "get",
                "--mount=secret",
                "--format",
                "json",
                "foo"
            ]
        );
    }

    #[test]
    fn other_arguments_are_untouched() {
        assert_eq!(
            run(&[
                "vault-rs",
                "write",
                "p",
                "-",
                "k=-",
                "-h",
                "-5",
                "-unknown",
                "--field=x"
            ]),
            vec![
                "vault-rs",
                "write",
                "p",
                "-",
                "k=-",
                "-h",
                "-5",
                "-unknown",
                "--field=x"
            ]
        );
    }

    #[test]
    fn nothing_after_double_dash() {
        assert_eq!(
            run(&["vault-rs", "-format=json", "--", "-field"]),
            vec!["vault-rs", "--format=json", "--", "-field"]
        );
    }

    #[test]
    fn program_name_is_untouched() {
        assert_eq!(run(&["-format"]), vec!["-format"]);
    }
}
