//! The committed generated code must match what the schema compiles to.

use std::path::PathBuf;

fn compile_schema() -> String {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let descriptors =
        protox::compile([atbus_proto::SCHEMA_PATH], [&root]).expect("schema compiles");
    let out = tempdir();
    let mut config = prost_build::Config::new();
    // BTreeMap, not HashMap: map fields must encode in the same order every run (determinism).
    config.bytes(["."]).btree_map(["."]).out_dir(&out);
    // The head is absent on direct links; boxing it keeps `FrameMessage` small, so frames move
    // cheaply through decoders and queues.
    config.boxed(".atbus.protocol.frame_message.head");
    config
        .compile_fds(descriptors)
        .expect("prost-build generates code");
    let generated = std::fs::read_to_string(out.join("atbus.protocol.rs")).expect("generated file");
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
    let generated = compile_schema();
    let committed_path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/generated/atbus.protocol.rs");
    if std::env::var_os("ATBUS_REGENERATE").is_some() {
        std::fs::write(&committed_path, &generated).expect("write generated code");
        return;
    }
    let committed = std::fs::read_to_string(&committed_path).unwrap_or_default();
    assert!(
        committed == generated,
        "src/generated/atbus.protocol.rs is out of date with atbus/protocol.proto; \
         run `ATBUS_REGENERATE=1 cargo test -p atbus-proto --test generated` and commit the result"
    );
}
