//! Reading the JSON specs that the Nix modules hand to `hearth build-env`
//! and `hearth build-generation`: strict, with the JSON path of a mistake.

use std::io;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read the {what} spec {path}: {source}")]
    Read {
        what: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error(
        "{path}: {json_path}: {message}\nhint: the spec is described in docs/generation-spec.md"
    )]
    Parse {
        path: PathBuf,
        json_path: String,
        message: String,
    },
}

impl Error {
    /// 2 for a spec that does not parse (fix the configuration), 1 for I/O.
    pub fn exit_code(&self) -> crate::exit::ExitCode {
        match self {
            Error::Read { .. } => crate::exit::ExitCode::Error,
            Error::Parse { .. } => crate::exit::ExitCode::InvalidInput,
        }
    }
}

/// Reads the `what` spec at `path` ("build-env", "generation").
pub fn read<T: DeserializeOwned>(what: &'static str, path: &Path) -> Result<T, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
        what,
        path: path.to_path_buf(),
        source,
    })?;
    let de = &mut serde_json::Deserializer::from_str(&text);
    serde_path_to_error::deserialize(de).map_err(|e| Error::Parse {
        path: path.to_path_buf(),
        json_path: e.path().to_string(),
        message: e.into_inner().to_string(),
    })
}
