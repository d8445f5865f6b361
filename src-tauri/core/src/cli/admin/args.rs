//! The clap argument types of `gatehoused connections|grants|clients`, and how the credential
//! options among them become the admin use cases' inputs (a header line, OAuth client settings,
//! secrets taken from the environment to keep them out of shell history).

use std::path::PathBuf;

use clap::{Args, Subcommand};
use secrecy::SecretString;

use super::CliError;
use crate::admin::{OAuthInput, SigninCallback, UpstreamAuth};

/// What `connections edit --auth` can switch to (a header is given with `--header`, none with
/// `--no-header`).
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum EditAuthChoice {
    Oauth,
}

#[derive(Debug, Subcommand)]
pub enum ConnectionsCommand {
    /// Add an upstream MCP server; prints its local URL
    Add {
        /// The path segment of the local URL: /mcp/<SLUG> (lowercase letters, digits, '-')
        #[arg(long)]
        slug: String,
        #[arg(long)]
        name: String,
        /// The upstream's Streamable HTTP endpoint (https, or http to 127.0.0.1/localhost/[::1])
        #[arg(long, required_unless_present = "command", conflicts_with = "command")]
        url: Option<String>,
        /// A local MCP server to start instead of a URL, after `--`: the program and its
        /// arguments (`-- npx -y @modelcontextprotocol/server-filesystem /home/me/notes`)
        #[arg(last = true, value_name = "COMMAND")]
        command: Vec<String>,
        /// For a command: an environment variable for it, sealed in Gatehouse's store. `NAME`
        /// takes the value from this shell's own variable NAME (keeps it off the command line);
        /// `NAME=VALUE` gives it here
        #[arg(long = "env", value_name = "NAME[=VALUE]", requires = "command")]
        env: Vec<String>,
        /// For a command: its working directory (absolute; default: your home directory)
        #[arg(long, value_name = "DIR", requires = "command")]
        cwd: Option<String>,
        #[command(flatten)]
        header: HeaderArgs,
        /// How Gatehouse authenticates upstream; without it, a --header means header, OAuth options
        /// mean oauth, and otherwise an unauthenticated probe decides: a 401 with OAuth metadata
        /// (RFC 9728) → oauth, "Sign-in needed"; a 401 without → an error asking for --header
        #[arg(long, value_enum)]
        auth: Option<AuthChoice>,
        #[command(flatten)]
        oauth: Box<OAuthArgs>,
        /// The account the connection acts for, shown as "on behalf of" when the upstream does not
        /// say who signed in (no id_token or userinfo)
        #[arg(long, value_name = "NAME")]
        account: Option<String>,
    },
    /// List connections
    List,
    /// Change a connection; a new URL or new authentication settings revoke its grants
    Edit {
        /// The connection's slug (or id)
        slug: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        url: Option<String>,
        #[command(flatten)]
        header: HeaderArgs,
        /// Stop sending a header (auth kind none)
        #[arg(long, conflicts_with_all = ["header", "header_from_env"])]
        no_header: bool,
        /// New OAuth settings (`--auth oauth` with the same options as `add`; the stored client
        /// secret stays when the client id is the same and no secret is given). The connection
        /// then needs a new sign-in.
        #[arg(long, value_enum, conflicts_with_all = ["header", "header_from_env", "no_header"])]
        auth: Option<EditAuthChoice>,
        #[command(flatten)]
        oauth: Box<OAuthArgs>,
        /// The account the connection acts for, as you name it ("" removes it); the upstream's own
        /// answer (id_token, userinfo) is shown instead when it gives one
        #[arg(long, value_name = "NAME")]
        account: Option<String>,
    },
    /// Remove a connection, revoking its grants
    Remove { slug: String },
    /// Disable a connection, revoking its grants
    Disable { slug: String },
    /// Enable a disabled connection
    Enable { slug: String },
    /// Sign an OAuth connection in: prints the authorization URL, opens it in the browser ($BROWSER,
    /// else the platform opener), and waits until the running gateway's callback completed it
    Signin {
        slug: String,
        /// Give up after this many seconds
        #[arg(long, default_value_t = 600)]
        timeout: u64,
        /// The running gateway's port (default: $GATEHOUSE_PORT, else 47474)
        #[arg(long)]
        port: Option<u16>,
        /// Only print the URL; do not open a browser
        #[arg(long)]
        no_browser: bool,
        /// Where the browser comes back: the running gateway's loopback callback, or the app's
        /// deep link dev.gatehouse:/oauth/callback
        #[arg(long, value_enum, default_value_t = CallbackChoice::Loopback)]
        callback: CallbackChoice,
    },
    /// Sign an OAuth connection out: revoke its tokens at the upstream (RFC 7009) and delete them
    Signout { slug: String },
}

/// `connections signin --callback`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CallbackChoice {
    Loopback,
    DeepLink,
}

impl From<CallbackChoice> for SigninCallback {
    fn from(choice: CallbackChoice) -> Self {
        match choice {
            CallbackChoice::Loopback => SigninCallback::Loopback,
            CallbackChoice::DeepLink => SigninCallback::DeepLink,
        }
    }
}

/// `--auth`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AuthChoice {
    None,
    Header,
    Oauth,
}

/// OAuth options of `connections add`.
#[derive(Debug, Args)]
pub struct OAuthArgs {
    /// A client id registered at the upstream's authorization server (else Gatehouse registers itself)
    #[arg(long, value_name = "ID")]
    client_id: Option<String>,
    /// The client's secret (stored encrypted; prefer --client-secret-from-env)
    #[arg(long, value_name = "SECRET", conflicts_with = "client_secret_from_env")]
    client_secret: Option<String>,
    /// Like --client-secret, taken from this environment variable
    #[arg(long, value_name = "VAR")]
    client_secret_from_env: Option<String>,
    /// A provider template that fills the endpoints: github, google, microsoft, okta, auth0, custom
    #[arg(long, value_name = "NAME")]
    template: Option<String>,
    /// The tenant domain for the okta / auth0 / microsoft templates
    #[arg(long, value_name = "DOMAIN")]
    tenant: Option<String>,
    /// Scopes to request (space-separated) instead of the discovered ones
    #[arg(long, value_name = "SCOPES")]
    scope: Option<String>,
    /// Machine to machine: use the client_credentials grant (needs --client-id and a secret)
    #[arg(long)]
    client_credentials: bool,
    /// For an older (2025-03-26) MCP server without protected resource metadata: find its
    /// authorization server at the URL's origin, else use /authorize, /token and /register there
    #[arg(long)]
    legacy_oauth: bool,
}

impl OAuthArgs {
    pub(super) fn given(&self) -> bool {
        self.client_id.is_some()
            || self.client_secret.is_some()
            || self.client_secret_from_env.is_some()
            || self.template.is_some()
            || self.scope.is_some()
            || self.client_credentials
            || self.legacy_oauth
    }

    pub(super) fn input(&self) -> Result<OAuthInput, CliError> {
        let client_secret = match (&self.client_secret, &self.client_secret_from_env) {
            (Some(s), _) => Some(SecretString::from(s.clone())),
            (None, Some(var)) => Some(SecretString::from(std::env::var(var).map_err(|_| {
                CliError::Usage(format!(
                    "--client-secret-from-env: environment variable {var} is not set"
                ))
            })?)),
            (None, None) => None,
        };
        Ok(OAuthInput {
            client_id: self.client_id.clone(),
            client_secret,
            template: self.template.clone(),
            tenant: self.tenant.clone(),
            scopes: self.scope.clone(),
            client_credentials: self.client_credentials,
            legacy_discovery: self.legacy_oauth,
        })
    }
}

/// A header credential, from the command line or (to keep it out of shell history) the environment.
#[derive(Debug, Args)]
pub struct HeaderArgs {
    /// A header sent to the upstream on every request, as 'Name: value' (stored encrypted)
    #[arg(long, value_name = "'NAME: VALUE'", conflicts_with = "header_from_env")]
    header: Option<String>,
    /// Like --header, with the 'Name: value' line taken from this environment variable
    #[arg(long, value_name = "VAR")]
    header_from_env: Option<String>,
}

impl HeaderArgs {
    pub(super) fn auth(&self) -> Result<Option<UpstreamAuth>, CliError> {
        let line = match (&self.header, &self.header_from_env) {
            (Some(line), _) => line.clone(),
            (None, Some(var)) => std::env::var(var).map_err(|_| {
                CliError::Usage(format!(
                    "--header-from-env: environment variable {var} is not set"
                ))
            })?,
            (None, None) => return Ok(None),
        };
        let Some((name, value)) = line.split_once(':') else {
            return Err(CliError::Usage(
                "--header must look like 'Name: value'".to_owned(),
            ));
        };
        Ok(Some(UpstreamAuth::Header {
            name: name.trim().to_owned(),
            value: SecretString::from(value.trim().to_owned()),
        }))
    }
}

#[derive(Debug, Subcommand)]
pub enum GrantsCommand {
    /// List active grants (authorized clients)
    List {
        /// Include pending and revoked grants
        #[arg(long)]
        all: bool,
    },
    /// Revoke grants by id; an unknown id revokes nothing
    Revoke {
        #[arg(required = true, value_name = "ID")]
        ids: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ClientsCommand {
    /// List registered clients
    List,
    /// Pre-register a client that cannot register itself; prints its client_id
    Add {
        #[arg(long)]
        name: String,
        #[arg(long = "redirect-uri", value_name = "URI", required = true)]
        redirect_uris: Vec<String>,
    },
    /// Forget a client, revoking its grants
    Forget { client_id: String },
    /// Find the MCP clients on this computer and the servers in their configs
    Detect,
    /// Add a connection's local URL to a client's config: shows the change, asks, keeps a backup
    Connect {
        /// claude-code, vscode, cursor, windsurf, codex, gemini, zed (claude-desktop needs the
        /// stdio bridge)
        client: String,
        /// The connection's slug
        slug: String,
        /// Another config file of the client's format
        #[arg(long, value_name = "FILE", conflicts_with = "workspace")]
        config: Option<PathBuf>,
        /// VS Code: the workspace folder whose .vscode/mcp.json to change (see `clients detect`)
        #[arg(long, value_name = "FOLDER")]
        workspace: Option<String>,
        /// Write without asking (the change is still printed)
        #[arg(long)]
        yes: bool,
    },
    /// Move a client's existing server behind Gatehouse: its URL or command and its secrets (header,
    /// environment) into a new connection, sealed; the client's entry then points at Gatehouse.
    /// Without SERVER: list what the client has and what would move
    Import {
        client: String,
        /// The server's name in the client's config
        server: Option<String>,
        /// Another config file of the client's format
        #[arg(long, value_name = "FILE", conflicts_with = "workspace")]
        config: Option<PathBuf>,
        /// VS Code: the workspace folder whose .vscode/mcp.json holds the server
        #[arg(long, value_name = "FOLDER")]
        workspace: Option<String>,
        /// Import without asking (the change is still printed)
        #[arg(long)]
        yes: bool,
    },
    /// Put back a client's config as it was before Gatehouse's last change to it
    Undo { client: String },
}
