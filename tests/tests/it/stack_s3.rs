//! The local stack's S3-compatible store: multipart uploads, listings,
//! conditional writes and signature checks.

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use hydrate_tests::TestScope;

const MIB: usize = 1024 * 1024;

fn status<E>(err: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>) -> Option<u16> {
    err.raw_response().map(|response| response.status().as_u16())
}

#[tokio::test]
async fn multipart_upload_completes_and_abort_leaves_nothing() {
    let scope = TestScope::new("s3_multipart");
    let env = scope.env();
    let s3 = env.s3_client();
    let bucket = env.s3_bucket();
    let key = format!("{}big.bin", scope.s3_prefix());

    // S3 requires every part but the last to be at least 5 MiB.
    let parts: Vec<Vec<u8>> = vec![vec![b'a'; 5 * MIB], vec![b'b'; 1234]];
    let upload =
        s3.create_multipart_upload().bucket(bucket).key(&key).send().await.expect("create multipart upload");
    let upload_id = upload.upload_id().expect("upload id");
    let mut completed = Vec::new();
    for (index, body) in parts.iter().enumerate() {
        let number = index as i32 + 1;
        let part = s3
            .upload_part()
            .bucket(bucket)
            .key(&key)
            .upload_id(upload_id)
            .part_number(number)
            .body(ByteStream::from(body.clone()))
            .send()
            .await
            .expect("upload part");
        completed.push(
            CompletedPart::builder().part_number(number).set_e_tag(part.e_tag().map(str::to_owned)).build(),
        );
    }
    s3.complete_multipart_upload()
        .bucket(bucket)
        .key(&key)
        .upload_id(upload_id)
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(completed)).build())
        .send()
        .await
        .expect("complete multipart upload");

    let object = s3.get_object().bucket(bucket).key(&key).send().await.expect("get object");
    let body = object.body.collect().await.expect("read body").into_bytes();
    assert_eq!(body.len(), 5 * MIB + 1234);
    assert_eq!(&body[..5 * MIB], parts[0].as_slice());
    assert_eq!(&body[5 * MIB..], parts[1].as_slice());

    // An aborted upload leaves no object behind.
    let aborted_key = format!("{}aborted.bin", scope.s3_prefix());
    let upload = s3
        .create_multipart_upload()
        .bucket(bucket)
        .key(&aborted_key)
        .send()
        .await
        .expect("create multipart upload");
    let upload_id = upload.upload_id().expect("upload id");
    s3.upload_part()
        .bucket(bucket)
        .key(&aborted_key)
        .upload_id(upload_id)
        .part_number(1)
        .body(ByteStream::from(vec![b'x'; 1000]))
        .send()
        .await
        .expect("upload part");
    s3.abort_multipart_upload()
        .bucket(bucket)
        .key(&aborted_key)
        .upload_id(upload_id)
        .send()
        .await
        .expect("abort");
    let head = s3.head_object().bucket(bucket).key(&aborted_key).send().await;
    assert_eq!(head.as_ref().err().and_then(status), Some(404), "aborted object absent");
}

#[tokio::test]
async fn list_objects_v2_with_prefix_and_delimiter() {
    let scope = TestScope::new("s3_list");
    let env = scope.env();
    let s3 = env.s3_client();
    let prefix = scope.s3_prefix();
    for key in ["a/x=1/f1.json", "a/x=1/f2.json", "a/x=2/f3.json", "b.json"] {
        s3.put_object()
            .bucket(env.s3_bucket())
            .key(format!("{prefix}{key}"))
            .body(ByteStream::from_static(b"{}"))
            .send()
            .await
            .expect("put");
    }
    let listed = s3
        .list_objects_v2()
        .bucket(env.s3_bucket())
        .prefix(format!("{prefix}a/"))
        .delimiter("/")
        .send()
        .await
        .expect("list");
    let dirs: Vec<&str> = listed.common_prefixes().iter().filter_map(|p| p.prefix()).collect();
    assert_eq!(dirs, [format!("{prefix}a/x=1/"), format!("{prefix}a/x=2/")]);
    assert!(listed.contents().is_empty());

    let all = s3.list_objects_v2().bucket(env.s3_bucket()).prefix(&prefix).send().await.expect("list");
    assert_eq!(all.key_count(), Some(4));
}

#[tokio::test]
async fn second_put_with_if_none_match_is_refused() {
    let scope = TestScope::new("s3_conditional");
    let env = scope.env();
    let s3 = env.s3_client();
    let key = format!("{}once.json", scope.s3_prefix());
    let put = |body: &'static [u8]| {
        s3.put_object()
            .bucket(env.s3_bucket())
            .key(&key)
            .if_none_match("*")
            .body(ByteStream::from_static(body))
            .send()
    };
    put(b"first").await.expect("first conditional put");
    let err = put(b"second").await.expect_err("second conditional put must fail");
    assert_eq!(status(&err), Some(412), "precondition failed: {err:?}");

    let object = s3.get_object().bucket(env.s3_bucket()).key(&key).send().await.expect("get");
    let body = object.body.collect().await.expect("body").into_bytes();
    assert_eq!(&body[..], b"first", "the first write stands");
}

#[tokio::test]
async fn request_signed_with_wrong_secret_is_refused() {
    let scope = TestScope::new("s3_signature");
    let env = scope.env();
    let wrong = env.s3_client_with_secret("not-the-secret-key");
    let err = wrong
        .list_objects_v2()
        .bucket(env.s3_bucket())
        .send()
        .await
        .expect_err("a wrong signature must be refused");
    assert_eq!(status(&err), Some(403), "forbidden: {:?}", err.code());

    let err = wrong
        .put_object()
        .bucket(env.s3_bucket())
        .key(format!("{}forged.json", scope.s3_prefix()))
        .body(ByteStream::from_static(b"{}"))
        .send()
        .await
        .expect_err("a forged write must be refused");
    assert_eq!(status(&err), Some(403));
    // The right secret still works, so the 403 above was about the signature.
    env.s3_client()
        .list_objects_v2()
        .bucket(env.s3_bucket())
        .max_keys(1)
        .send()
        .await
        .expect("list with the right secret");
}
