//! Adding a connection whose upstream is a local command speaking MCP over stdio
//! (`npx -y @modelcontextprotocol/server-filesystem ~/notes`, `uvx mcp-server-git`, …).
//!
//! The command is checked before anything is stored: a program, arguments without NUL, an
//! absolute working directory that exists, and environment variable names of the portable form
//! (`[A-Za-z_][A-Za-z0-9_]*`, POSIX.1-2017 §8.1). The variables' values are sealed with the
//! connection's id (`crate::stdio::seal_env`); only their names are stored in the clear. The
//! process is not started here: `crate::stdio` starts it on the first request.

use std::path::Path;

use secrecy::{ExposeSecret, SecretString};

use super::AdminError;
use super::connection_input::{validate_name, validate_slug};
use super::connections::{ConnectionView, get_connection};
use crate::store::ConnectionId;
use crate::store::connections::{
    self, AuthKind, ConnectionSettings, ConnectionStatus, NewConnection, OAuthSettings,
    StdioCommand, Transport,
};
use crate::vault::Vault;

/// Most environment variables a connection may carry.
pub const MAX_ENV: usize = 64;
/// Longest program, argument or value accepted, in bytes.
pub const MAX_PART_LEN: usize = 8192;

/// A stdio connection to add.
#[derive(Debug, Clone)]
pub struct NewStdioConnectionInput {
    pub slug: String,
    pub name: String,
    pub program: String,
    pub args: Vec<String>,
    /// Absolute; `None` starts the command in the user's home directory.
    pub cwd: Option<String>,
    /// Name and value; the values are sealed.
    pub env: Vec<(String, SecretString)>,
}

fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn check_part(field: &'static str, part: &str) -> Result<(), AdminError> {
    if part.contains('\0') {
        return Err(AdminError::invalid(field, "must not contain NUL"));
    }
    if part.len() > MAX_PART_LEN {
        return Err(AdminError::invalid(
            field,
            format!("must be at most {MAX_PART_LEN} bytes"),
        ));
    }
    Ok(())
}

/// The checked command (without the sealed values).
pub(super) fn command_of(input: &NewStdioConnectionInput) -> Result<StdioCommand, AdminError> {
    let program = input.program.trim();
    if program.is_empty() {
        return Err(AdminError::invalid(
            "command",
            "the command must not be empty",
        ));
    }
    check_part("command", program)?;
    for arg in &input.args {
        check_part("command", arg)?;
    }
    if let Some(cwd) = &input.cwd {
        check_part("cwd", cwd)?;
        let path = Path::new(cwd);
        if !path.is_absolute() {
            return Err(AdminError::invalid(
                "cwd",
                "the working directory must be an absolute path",
            ));
        }
        if !path.is_dir() {
            return Err(AdminError::invalid(
                "cwd",
                format!("{cwd} is not a directory"),
            ));
        }
    }
    if input.env.len() > MAX_ENV {
        return Err(AdminError::invalid(
            "env",
            format!("at most {MAX_ENV} environment variables"),
        ));
    }
    let mut names: Vec<String> = Vec::with_capacity(input.env.len());
    for (name, value) in &input.env {
        if !is_env_name(name) {
            return Err(AdminError::invalid(
                "env",
                format!(
                    "{name:?} is not an environment variable name (letters, digits, '_'; not starting with a digit)"
                ),
            ));
        }
        if names.contains(name) {
            return Err(AdminError::invalid("env", format!("{name} is given twice")));
        }
        check_part("env", value.expose_secret())?;
        names.push(name.clone());
    }
    Ok(StdioCommand {
        program: program.to_owned(),
        args: input.args.clone(),
        cwd: input.cwd.clone(),
        env_names: names,
        env_sealed: None,
    })
}

/// Adds the connection; it is usable at once (nothing to sign in to).
pub fn add_stdio_connection(
    vault: &Vault,
    port: u16,
    input: &NewStdioConnectionInput,
) -> Result<ConnectionView, AdminError> {
    let slug = validate_slug(&input.slug)?;
    let name = validate_name(&input.name)?;
    let mut command = command_of(input)?;
    let id = ConnectionId::new();
    if !input.env.is_empty() {
        command.env_sealed = Some(crate::stdio::seal_env(vault, &id, &input.env));
    }
    let new = NewConnection {
        id: id.clone(),
        slug: slug.to_owned(),
        name,
        settings: ConnectionSettings {
            upstream_url: format!("stdio:{}", command.display()),
            transport: Transport::Stdio,
            auth_kind: AuthKind::None,
            header_name: None,
            header_value_sealed: None,
            oauth: OAuthSettings::default(),
            stdio: Some(command),
        },
        enabled: true,
        status: ConnectionStatus::Connected,
    };
    let store = vault.store();
    let now = store.now();
    store.write_blocking(|tx| connections::insert(tx, &new, now))?;
    get_connection(vault, port, id.as_str())
}

/// An environment variable typed into the window (its value is a secret: sealed on arrival).
#[derive(Debug, Clone, serde::Deserialize, ts_rs::TS)]
pub struct EnvInput {
    pub name: String,
    pub value: String,
}

/// A local command's connection to add from the window.
#[derive(Debug, Clone, serde::Deserialize, ts_rs::TS)]
pub struct NewStdioConnectionRequest {
    pub slug: String,
    pub name: String,
    /// The command line as a person types it: words split like a POSIX shell (quotes and
    /// backslashes; nothing is expanded, nothing runs through a shell).
    pub command: String,
    #[serde(default)]
    #[ts(optional = nullable)]
    pub cwd: Option<String>,
    #[serde(default)]
    pub env: Vec<EnvInput>,
}

impl NewStdioConnectionRequest {
    /// The use case's input; refuses an unbalanced quote.
    pub fn into_input(self) -> Result<NewStdioConnectionInput, AdminError> {
        let words =
            split_command_line(&self.command).map_err(|why| AdminError::invalid("command", why))?;
        let Some((program, args)) = words.split_first() else {
            return Err(AdminError::invalid(
                "command",
                "the command must not be empty",
            ));
        };
        Ok(NewStdioConnectionInput {
            slug: self.slug,
            name: self.name,
            program: program.clone(),
            args: args.to_vec(),
            cwd: self.cwd.filter(|c| !c.trim().is_empty()),
            env: self
                .env
                .into_iter()
                .filter(|e| !e.name.trim().is_empty())
                .map(|e| (e.name.trim().to_owned(), SecretString::from(e.value)))
                .collect(),
        })
    }
}

/// Splits a command line into words as a POSIX shell would (XCU §2.2 quoting: backslash, single
/// and double quotes), without any expansion.
pub fn split_command_line(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                in_word = true;
                if let Some(next) = chars.next() {
                    word.push(next);
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(ch) => word.push(ch),
                        None => return Err("a single quote is not closed".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(ch @ ('"' | '\\' | '$' | '`')) => word.push(ch),
                            Some(ch) => {
                                word.push('\\');
                                word.push(ch);
                            }
                            None => return Err("a double quote is not closed".into()),
                        },
                        Some(ch) => word.push(ch),
                        None => return Err("a double quote is not closed".into()),
                    }
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// Most lines of a local server's log the window is sent.
pub const MAX_LOG_LINES: usize = 200;

/// The end of a local server's log (its stderr and Gatehouse's notes: started, exited, stopped),
/// with the sealed values masked (when written, and again when read).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, ts_rs::TS)]
pub struct ServerLog {
    /// The log file.
    pub path: String,
    /// Its last lines, oldest first (at most [`MAX_LOG_LINES`]).
    pub lines: Vec<String>,
    /// Earlier lines were left out.
    pub truncated: bool,
}

/// The end of the log of the stdio connection `key`.
pub fn server_log(vault: &Vault, key: &str) -> Result<ServerLog, AdminError> {
    let store = vault.store();
    let wanted = key.to_owned();
    let row = store
        .read_blocking(move |c| match ConnectionId::parse(&wanted) {
            Some(id) => connections::get(c, &id),
            None => connections::get_by_slug(c, &wanted),
        })?
        .ok_or_else(|| AdminError::invalid("connection", format!("no connection {key:?}")))?;
    if row.settings.transport != Transport::Stdio {
        return Err(AdminError::invalid(
            "connection",
            "only a local command's connection has a server log",
        ));
    }
    let data_dir = store.path().parent().unwrap_or(Path::new("."));
    let path = crate::stdio::log_path(data_dir, &row.id);
    let text = std::fs::read(&path)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default();
    // Masked when written; masked again here, against a log from before a value was changed.
    let secrets: Vec<SecretString> = row
        .settings
        .stdio
        .as_ref()
        .and_then(|command| crate::stdio::open_env(vault, &row.id, command).ok())
        .unwrap_or_default()
        .into_iter()
        .map(|(_, value)| value)
        .filter(|value| value.expose_secret().len() >= 4)
        .collect();
    let all: Vec<&str> = text.lines().collect();
    let start = all.len().saturating_sub(MAX_LOG_LINES);
    Ok(ServerLog {
        path: path.display().to_string(),
        lines: all[start..]
            .iter()
            .map(|line| crate::stdio::process::mask(line, &secrets))
            .collect(),
        truncated: start > 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(env: Vec<(&str, &str)>) -> NewStdioConnectionInput {
        NewStdioConnectionInput {
            slug: "files".into(),
            name: "Files".into(),
            program: "npx".into(),
            args: vec![
                "-y".into(),
                "@modelcontextprotocol/server-filesystem".into(),
            ],
            cwd: None,
            env: env
                .into_iter()
                .map(|(n, v)| (n.to_owned(), SecretString::from(v.to_owned())))
                .collect(),
        }
    }

    #[test]
    fn environment_names_must_be_portable_and_unique() {
        assert!(command_of(&input(vec![("API_KEY", "x"), ("_X1", "y")])).is_ok());
        for bad in ["1KEY", "KEY-NAME", "", "K=V", "KÉY"] {
            assert!(
                command_of(&input(vec![(bad, "x")])).is_err(),
                "{bad:?} is refused"
            );
        }
        assert!(command_of(&input(vec![("A", "1"), ("A", "2")])).is_err());
    }

    #[test]
    fn the_working_directory_must_be_an_existing_absolute_directory() {
        let mut relative = input(vec![]);
        relative.cwd = Some("notes".into());
        assert!(command_of(&relative).is_err());
        let mut missing = input(vec![]);
        missing.cwd = Some("/no/such/dir/for/gatehouse".into());
        assert!(command_of(&missing).is_err());
        let dir = tempfile::tempdir().expect("temp dir");
        let mut fine = input(vec![]);
        fine.cwd = Some(dir.path().display().to_string());
        assert!(command_of(&fine).is_ok());
    }

    #[test]
    fn an_empty_command_or_nul_is_refused() {
        let mut empty = input(vec![]);
        empty.program = "  ".into();
        assert!(command_of(&empty).is_err());
        let mut nul = input(vec![]);
        nul.args.push("a\0b".into());
        assert!(command_of(&nul).is_err());
    }

    #[test]
    fn command_lines_split_like_a_shell_without_expansion() {
        assert_eq!(
            split_command_line(
                r#"npx -y @modelcontextprotocol/server-filesystem "/home/me/My Notes" 'a b' c\ d $HOME"#
            ),
            Ok(vec![
                "npx".to_owned(),
                "-y".into(),
                "@modelcontextprotocol/server-filesystem".into(),
                "/home/me/My Notes".into(),
                "a b".into(),
                "c d".into(),
                "$HOME".into(),
            ])
        );
        assert_eq!(
            split_command_line(r#"x "say \"hi\"" '' "#),
            Ok(vec!["x".to_owned(), "say \"hi\"".into(), String::new()])
        );
        assert!(split_command_line("x 'open").is_err());
        assert!(split_command_line("x \"open").is_err());
        assert_eq!(split_command_line("   "), Ok(vec![]));
    }

    #[test]
    fn the_log_is_the_end_of_the_connections_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let vault = crate::vault::Vault::open(
            &dir.path().join("data"),
            crate::crypto::KeyBackend::File,
            std::sync::Arc::new(crate::clock::SystemClock),
        )
        .expect("a fresh vault opens");
        let view = add_stdio_connection(&vault, 1, &input(vec![])).expect("added");
        let empty = server_log(&vault, "files").expect("no log yet is an empty log");
        assert!(empty.lines.is_empty() && !empty.truncated);
        let id = ConnectionId::parse(&view.id).expect("id");
        let path = crate::stdio::log_path(&dir.path().join("data"), &id);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        let text: String = (0..250).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&path, text).expect("write");
        let log = server_log(&vault, &view.id).expect("log");
        assert!(log.truncated);
        assert_eq!(log.lines.len(), MAX_LOG_LINES);
        assert_eq!(log.lines.first().map(String::as_str), Some("line 50"));
        assert_eq!(log.lines.last().map(String::as_str), Some("line 249"));
    }

    #[test]
    fn values_are_sealed_and_only_names_are_stored_in_the_clear() {
        let dir = tempfile::tempdir().expect("temp dir");
        let vault = crate::vault::Vault::open(
            &dir.path().join("data"),
            crate::crypto::KeyBackend::File,
            std::sync::Arc::new(crate::clock::SystemClock),
        )
        .expect("a fresh vault opens");
        let view = add_stdio_connection(&vault, 47474, &input(vec![("API_KEY", "sk-secret-987")]))
            .expect("added");
        assert_eq!(view.transport, "stdio");
        assert!(
            view.upstream_url.starts_with("stdio:npx -y"),
            "{}",
            view.upstream_url
        );
        let id = ConnectionId::parse(&view.id).expect("uuid");
        let row = vault
            .store()
            .read_blocking(|c| connections::get(c, &id))
            .expect("read")
            .expect("row");
        let command = row.settings.stdio.expect("a command");
        assert_eq!(command.env_names, vec!["API_KEY".to_owned()]);
        let sealed = command.env_sealed.clone().expect("sealed values");
        assert!(
            !sealed.windows(6).any(|w| w == b"sk-sec"),
            "the value is not stored in the clear"
        );
        let db = std::fs::read(vault.store().path()).expect("database file");
        assert!(!db.windows(13).any(|w| w == b"sk-secret-987"));
        let opened = crate::stdio::open_env(&vault, &id, &command).expect("opens");
        assert_eq!(opened[0].0, "API_KEY");
        assert_eq!(opened[0].1.expose_secret(), "sk-secret-987");
    }
}
