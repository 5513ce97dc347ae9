//! The committed generated code must match what the schema compiles to.

use std::path::PathBuf;

/// The schema files and the generated file each package compiles to.
const SCHEMAS: [(&str, &str); 2] = [
    (atbus_proto::SCHEMA_PATH, "atbus.protocol.rs"),
    (atbus_proto::DISCOVERY_SCHEMA_PATH, "atbus.discovery.rs"),
];

/// Compiles every schema file; returns (generated file name, generated code) per package.
fn compile_schemas() -> Vec<(&'static str, String)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let descriptors =
        protox::compile(SCHEMAS.map(|(schema, _)| schema), [&root]).expect("schemas compile");
    let out = tempdir();
    let mut config = prost_build::Config::new();
    // BTreeMap, not HashMap: map fields must encode in the same order every run (determinism).
    config.bytes(["."]).btree_map(["."]).out_dir(&out);
    // The head is absent on direct links; boxing it keeps `FrameMessage` small, so frames move
    // cheaply through decoders and queues.
    config.boxed(".atbus.protocol.frame_message.head");
    // The handshake steps travel once or twice per connection; boxed, they cost every other
    // frame a pointer each instead of their whole size.
    config.boxed(".atbus.protocol.frame_message.register");
    config.boxed(".atbus.protocol.frame_message.register_result");
    config
        .compile_fds(descriptors)
        .expect("prost-build generates code");
    let generated = SCHEMAS
        .map(|(_, file)| {
            let code = std::fs::read_to_string(out.join(file)).expect("generated file");
            (file, code)
        })
        .to_vec();
    std::fs::remove_dir_all(&out).ok();
    generated
}

fn tempdir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("atbus-proto-gen-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[test]
fn generated_code_is_up_to_date() {
    let regenerate = std::env::var_os("ATBUS_REGENERATE").is_some();
    for (file, generated) in compile_schemas() {
        let committed_path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("src/generated")
            .join(file);
        if regenerate {
            std::fs::write(&committed_path, &generated).expect("write generated code");
            continue;
        }
        let committed = std::fs::read_to_string(&committed_path).unwrap_or_default();
        assert!(
            committed == generated,
            "src/generated/{file} is out of date with its schema in atbus/; \
             run `ATBUS_REGENERATE=1 cargo test -p atbus-proto --test generated` and commit the result"
        );
    }
}
