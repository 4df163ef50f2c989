//! `imgcheck generate completions bash|zsh|fish` and `imgcheck generate
//! man [compare|generate]`: the shell completions and the man pages, rendered from the clap
//! definitions the parser itself uses ([`crate::cli::command`]), so they
//! name exactly the options and commands imgcheck takes. Hidden from the
//! usage line: packagers and the README's install line use it.

use crate::exit;
use clap_complete::Shell;
use std::io::Write;

const HELP: &str = "usage: imgcheck generate completions bash|zsh|fish
       imgcheck generate man [compare|generate]
  Writes shell completions or the man page imgcheck(1) to stdout, e.g.
    imgcheck generate completions bash > /etc/bash_completion.d/imgcheck
    imgcheck generate completions zsh > /usr/local/share/zsh/site-functions/_imgcheck
    imgcheck generate completions fish > ~/.config/fish/completions/imgcheck.fish
    imgcheck generate man > /usr/local/share/man/man1/imgcheck.1
    imgcheck generate man compare > /usr/local/share/man/man1/imgcheck-compare.1
";

/// Runs `imgcheck generate ARGS…`, writing to `out`; the exit status.
pub fn run(args: &[String], out: &mut impl Write) -> u8 {
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut bytes = Vec::new();
    match words.as_slice() {
        ["completions", shell] => {
            let shell = match *shell {
                "bash" => Shell::Bash,
                "zsh" => Shell::Zsh,
                "fish" => Shell::Fish,
                other => {
                    eprintln!("imgcheck generate: no completions for shell {other:?}\n{HELP}");
                    return exit::USAGE;
                }
            };
            let mut cmd = crate::cli::command();
            clap_complete::generate(shell, &mut cmd, "imgcheck", &mut bytes);
        }
        ["man", rest @ ..] if rest.len() <= 1 => {
            // The main page lists the commands as pages of their own
            // (imgcheck-compare(1)): each is rendered on request.
            let main = crate::cli::command();
            let page = match rest.first() {
                None => main,
                Some(sub) => match (main.find_subcommand(sub), *sub) {
                    (Some(c), "compare") => c.clone().name("imgcheck-compare"),
                    (Some(c), "generate") => c.clone().name("imgcheck-generate"),
                    _ => {
                        eprintln!("imgcheck generate: no command {sub:?}\n{HELP}");
                        return exit::USAGE;
                    }
                },
            };
            if let Err(e) = clap_mangen::Man::new(page).render(&mut bytes) {
                eprintln!("imgcheck generate: cannot render the man page: {e}");
                return exit::OPERATIONAL;
            }
        }
        ["-h" | "--help"] => {
            print!("{HELP}");
            return exit::CLEAN;
        }
        _ => {
            eprintln!("imgcheck generate: what to generate?\n{HELP}");
            return exit::USAGE;
        }
    }
    if out.write_all(&bytes).and_then(|()| out.flush()).is_err() {
        return exit::OPERATIONAL;
    }
    exit::CLEAN
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_definition_is_consistent() {
        crate::cli::command().debug_assert();
    }

    #[test]
    fn unknown_requests_are_usage_errors() {
        let mut out = Vec::new();
        assert_eq!(
            run(&["completions".into(), "tcsh".into()], &mut out),
            exit::USAGE
        );
        assert_eq!(run(&[], &mut out), exit::USAGE);
        assert!(out.is_empty());
    }
}
