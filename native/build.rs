// native room: napi-rs build glue (sets the link flags a Node addon needs per platform).
fn main() {
    napi_build::setup();
}
