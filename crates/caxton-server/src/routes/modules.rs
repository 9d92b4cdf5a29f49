//! WASM modules: upload (compiled off the async workers) and list.

use std::fmt::Write as _;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::extract::WasmBody;
use crate::state::AppState;
use caxton_wasm::WasmModule;

/// The id of a module: the hex SHA-256 of its bytes.
fn module_id(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut id = String::with_capacity(64);
    for b in digest {
        let _ = write!(id, "{b:02x}");
    }
    id
}

/// `POST /v1/modules`: validates and compiles a module (on a blocking
/// thread), keeps it under its id.
pub async fn upload(
    State(state): State<AppState>,
    WasmBody(bytes): WasmBody,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let id = module_id(&bytes);
    let known = state
        .modules
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .get(&id)
        .cloned();
    let module = match known {
        Some(m) => m,
        None => {
            if state.modules.read().unwrap_or_else(|p| p.into_inner()).len() >= state.config.max_modules {
                return Err(ApiError::new(
                    StatusCode::INSUFFICIENT_STORAGE,
                    "module_limit",
                    format!("the server keeps at most {} modules", state.config.max_modules),
                ));
            }
            let module = state.host()?.load_async(bytes.clone()).await?;
            // On a cluster node the lattice keeps it too, so a survivor can
            // restart this node's agents that run it.
            if let Some(node) = &state.node {
                node.put_module(&id, &bytes).await?;
            }
            let mut modules = state.modules.write().unwrap_or_else(|p| p.into_inner());
            if modules.len() >= state.config.max_modules && !modules.contains_key(&id) {
                return Err(ApiError::new(
                    StatusCode::INSUFFICIENT_STORAGE,
                    "module_limit",
                    format!("the server keeps at most {} modules", state.config.max_modules),
                ));
            }
            modules.entry(id.clone()).or_insert(module).clone()
        }
    };
    Ok((
        StatusCode::CREATED,
        Json(json!({ "module": id, "checkpointable": module.is_checkpointable() })),
    ))
}

/// `GET /v1/modules`: the ids of the modules kept.
pub async fn list(State(state): State<AppState>) -> Json<serde_json::Value> {
    let modules = state.modules.read().unwrap_or_else(|p| p.into_inner());
    let mut ids: Vec<&String> = modules.keys().collect();
    ids.sort();
    Json(json!({ "modules": ids }))
}

/// The module `id`: uploaded here, or (on a cluster node) fetched from the
/// lattice's object store and compiled.
pub async fn find(state: &AppState, id: &str) -> Result<WasmModule, ApiError> {
    let known = state.modules.read().unwrap_or_else(|p| p.into_inner()).get(id).cloned();
    if let Some(module) = known {
        return Ok(module);
    }
    let unknown = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_module",
            format!("no module {id:?} was uploaded"),
        )
    };
    let Some(node) = &state.node else {
        return Err(unknown());
    };
    let bytes = node.module(id).await.map_err(|_| unknown())?;
    if module_id(&bytes) != id {
        return Err(ApiError::new(
            StatusCode::BAD_GATEWAY,
            "cluster_failed",
            format!("the lattice's copy of module {id} does not hash to its id"),
        ));
    }
    let module = state.host()?.load_async(bytes).await?;
    let mut modules = state.modules.write().unwrap_or_else(|p| p.into_inner());
    Ok(modules.entry(id.to_owned()).or_insert(module).clone())
}

#[cfg(test)]
mod tests {
    #[test]
    fn module_ids_are_sha256_hex() {
        assert_eq!(
            super::module_id(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
