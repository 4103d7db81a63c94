//! Compiles `hydrate/v1/*.proto` with protoc and exports the file descriptor
//! set so servers can offer gRPC reflection.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    let protos = ["hydrate/v1/types.proto", "hydrate/v1/connector.proto", "hydrate/v1/worker.proto"];
    for proto in &protos {
        println!("cargo:rerun-if-changed={proto}");
    }
    tonic_prost_build::configure()
        .file_descriptor_set_path(out_dir.join("hydrate_descriptor.bin"))
        .compile_protos(&protos, &["."])?;
    Ok(())
}
