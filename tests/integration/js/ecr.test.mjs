// Berth's Amazon ECR API through the AWS SDK for JavaScript v3 (@aws-sdk/client-ecr).
// Started by ../test_ecr_js.py, which runs a Berth server and passes:
//   BERTH_ECR_ENDPOINT  http://127.0.0.1:PORT
//   BERTH_ECR_REGION, BERTH_ECR_ACCESS_KEY_ID, BERTH_ECR_SECRET_ACCESS_KEY
//   BERTH_ECR_PREFIX    repository-name prefix for this run
//   BERTH_ECR_UNSUPPORTED  JSON [[operation, input], ...] expected to be unsupported
// Run by hand:  node --test ecr.test.mjs   (with those variables set)
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import * as ECR from "@aws-sdk/client-ecr";
import {
  ECRClient,
  ECRServiceException,
  CreateRepositoryCommand,
  DescribeRepositoriesCommand,
  DeleteRepositoryCommand,
  PutImageTagMutabilityCommand,
  PutImageScanningConfigurationCommand,
  TagResourceCommand,
  UntagResourceCommand,
  ListTagsForResourceCommand,
  InitiateLayerUploadCommand,
  UploadLayerPartCommand,
  CompleteLayerUploadCommand,
  BatchCheckLayerAvailabilityCommand,
  GetDownloadUrlForLayerCommand,
  PutImageCommand,
  BatchGetImageCommand,
  ListImagesCommand,
  DescribeImagesCommand,
  BatchDeleteImageCommand,
  GetAuthorizationTokenCommand,
  DescribeRegistryCommand,
  GetAccountSettingCommand,
  PutAccountSettingCommand,
  CreateRepositoryCreationTemplateCommand,
  UpdateRepositoryCreationTemplateCommand,
  DeleteRepositoryCreationTemplateCommand,
  paginateDescribeRepositories,
  paginateDescribeRepositoryCreationTemplates,
  paginateListImages,
  RepositoryAlreadyExistsException,
  RepositoryNotFoundException,
  RepositoryNotEmptyException,
  InvalidParameterException,
  InvalidLayerPartException,
  ImageAlreadyExistsException,
  ImageTagAlreadyExistsException,
  ImageNotFoundException,
  LayersNotFoundException,
  TemplateAlreadyExistsException,
  TemplateNotFoundException,
} from "@aws-sdk/client-ecr";

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set (run through test_ecr_js.py)`);
  return v;
};
const endpoint = env("BERTH_ECR_ENDPOINT");
const region = env("BERTH_ECR_REGION");
const accessKeyId = env("BERTH_ECR_ACCESS_KEY_ID");
const secretAccessKey = env("BERTH_ECR_SECRET_ACCESS_KEY");
const P = env("BERTH_ECR_PREFIX");
const host = new URL(endpoint).host;

const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const OCI_CONFIG = "application/vnd.oci.image.config.v1+json";
const OCI_LAYER = "application/vnd.oci.image.layer.v1.tar";

const makeClient = (creds = { accessKeyId, secretAccessKey }, r = region) =>
  new ECRClient({ endpoint, region: r, credentials: creds, maxAttempts: 1 });
const ecr = makeClient();

const sha256 = (buf) => "sha256:" + createHash("sha256").update(buf).digest("hex");
const blob = (data, mediaType) => ({ mediaType, digest: sha256(data), size: data.length });
const newConfig = () =>
  Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [] },
                               salt: randomBytes(8).toString("hex") }));
const manifestOf = (config, layers) =>
  JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: blob(config, OCI_CONFIG),
                   layers: layers.map((l) => blob(l, OCI_LAYER)) }, null, 2);

// The error must be the ECR exception `name`: by class when modeled, by name always.
async function rejectsWith(promise, name, cls, check) {
  await assert.rejects(promise, (e) => {
    assert.equal(e.name, name, `expected ${name}, got ${e.name}: ${e.message}`);
    if (cls) assert.ok(e instanceof cls, `${name} is not an instance of its modeled class`);
    assert.ok(e instanceof ECRServiceException, "not an ECRServiceException");
    assert.equal(e.$metadata.httpStatusCode, 400);
    assert.ok(e.$metadata.requestId, "no x-amzn-RequestId");
    assert.ok(e.message && e.message !== "UnknownError", `no message: ${e.message}`);
    if (check) check(e);
    return true;
  });
}

async function uploadLayer(repositoryName, data, partSize = 5 * 1024 * 1024) {
  const { uploadId, partSize: advertised } = await ecr.send(new InitiateLayerUploadCommand({ repositoryName }));
  assert.match(uploadId, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i);
  assert.equal(typeof advertised, "number");
  for (let first = 0; first < data.length; first += partSize) {
    const part = data.subarray(first, first + partSize);
    const out = await ecr.send(new UploadLayerPartCommand({
      repositoryName, uploadId, partFirstByte: first, partLastByte: first + part.length - 1,
      layerPartBlob: new Uint8Array(part) }));
    assert.equal(out.lastByteReceived, first + part.length - 1);
  }
  const done = await ecr.send(new CompleteLayerUploadCommand({ repositoryName, uploadId,
                                                               layerDigests: [sha256(data)] }));
  assert.equal(done.layerDigest, sha256(data));
  return uploadId;
}

test("repositories: create, describe, errors, delete", async () => {
  const name = `${P}/repo`;
  const t0 = Date.now();
  const { repository: repo } = await ecr.send(new CreateRepositoryCommand({
    repositoryName: name, imageTagMutability: "IMMUTABLE", tags: [{ Key: "team", Value: "js" }],
    imageScanningConfiguration: { scanOnPush: true } }));
  assert.equal(repo.repositoryName, name);
  assert.equal(repo.repositoryArn, `arn:aws:ecr:${region}:000000000000:repository/${name}`);
  assert.equal(repo.repositoryUri, `${host}/${name}`);
  assert.equal(repo.registryId, "000000000000");
  assert.equal(repo.imageTagMutability, "IMMUTABLE");
  assert.deepEqual(repo.imageScanningConfiguration, { scanOnPush: true });
  assert.ok(repo.createdAt instanceof Date, "createdAt is not a Date");
  assert.ok(Math.abs(repo.createdAt.getTime() - t0) < 60000, `createdAt ${repo.createdAt}`);
  await rejectsWith(ecr.send(new CreateRepositoryCommand({ repositoryName: name })),
                    "RepositoryAlreadyExistsException", RepositoryAlreadyExistsException);
  const { repositories } = await ecr.send(new DescribeRepositoriesCommand({ repositoryNames: [name] }));
  assert.equal(repositories.length, 1);
  assert.equal(repositories[0].repositoryArn, repo.repositoryArn);
  const m = await ecr.send(new PutImageTagMutabilityCommand({ repositoryName: name, imageTagMutability: "MUTABLE" }));
  assert.equal(m.imageTagMutability, "MUTABLE");
  const s = await ecr.send(new PutImageScanningConfigurationCommand({
    repositoryName: name, imageScanningConfiguration: { scanOnPush: false } }));
  assert.deepEqual(s.imageScanningConfiguration, { scanOnPush: false });
  await ecr.send(new DeleteRepositoryCommand({ repositoryName: name }));
  await rejectsWith(ecr.send(new DescribeRepositoriesCommand({ repositoryNames: [name] })),
                    "RepositoryNotFoundException", RepositoryNotFoundException, (e) =>
                      assert.equal(e.message, `The repository with name '${name}' does not exist in the registry with id '000000000000'`));
});

test("validation errors", async () => {
  await rejectsWith(ecr.send(new CreateRepositoryCommand({ repositoryName: "Bad_Name" })),
                    "InvalidParameterException", InvalidParameterException,
                    (e) => assert.match(e.message, /^Invalid parameter at 'repositoryName' failed to satisfy constraint: '/));
  await rejectsWith(ecr.send(new DescribeRepositoriesCommand({ maxResults: 5000 })),
                    "InvalidParameterException", InvalidParameterException);
});

test("pagination over several pages", async () => {
  const names = [];
  for (let i = 0; i < 25; i++) names.push(`${P}page/r${String(i).padStart(2, "0")}`);
  for (const n of names) await ecr.send(new CreateRepositoryCommand({ repositoryName: n }));
  const seen = [];
  let pages = 0;
  for await (const page of paginateDescribeRepositories({ client: ecr, pageSize: 10 }, {})) {
    pages++;
    assert.ok(page.repositories.length <= 10);
    for (const r of page.repositories) if (r.repositoryName.startsWith(`${P}page/`)) seen.push(r.repositoryName);
  }
  assert.ok(pages >= 3, `only ${pages} pages`);
  assert.deepEqual(seen.sort(), names);
});

test("tags by ARN", async () => {
  const { repository } = await ecr.send(new CreateRepositoryCommand({ repositoryName: `${P}/tagged`,
                                                                       tags: [{ Key: "a", Value: "1" }] }));
  const resourceArn = repository.repositoryArn;
  await ecr.send(new TagResourceCommand({ resourceArn, tags: [{ Key: "b", Value: "2" }] }));
  await ecr.send(new UntagResourceCommand({ resourceArn, tagKeys: ["a"] }));
  const { tags } = await ecr.send(new ListTagsForResourceCommand({ resourceArn }));
  assert.deepEqual(tags, [{ Key: "b", Value: "2" }]);
  await rejectsWith(ecr.send(new ListTagsForResourceCommand({ resourceArn: resourceArn + "-none" })),
                    "RepositoryNotFoundException", RepositoryNotFoundException);
});

test("layer upload API, PutImage, image queries, V2 pull", async () => {
  const repositoryName = `${P}/layers`;
  await ecr.send(new CreateRepositoryCommand({ repositoryName }));
  const layer = randomBytes(5 * 1024 * 1024 + 777);
  const config = newConfig();
  await uploadLayer(repositoryName, layer);
  await uploadLayer(repositoryName, config);
  const avail = await ecr.send(new BatchCheckLayerAvailabilityCommand({ repositoryName,
                                                                        layerDigests: [sha256(layer)] }));
  assert.equal(avail.layers[0].layerAvailability, "AVAILABLE");
  assert.equal(avail.layers[0].layerSize, layer.length);

  const imageManifest = manifestOf(config, [layer]);
  const digest = sha256(Buffer.from(imageManifest));
  const { image } = await ecr.send(new PutImageCommand({ repositoryName, imageManifest, imageTag: "v1",
                                                         imageManifestMediaType: OCI_MANIFEST }));
  assert.deepEqual(image.imageId, { imageDigest: digest, imageTag: "v1" });
  await rejectsWith(ecr.send(new PutImageCommand({ repositoryName, imageManifest, imageTag: "v1" })),
                    "ImageAlreadyExistsException", ImageAlreadyExistsException);
  const missing = manifestOf(config, [randomBytes(10)]);
  await rejectsWith(ecr.send(new PutImageCommand({ repositoryName, imageManifest: missing, imageTag: "bad" })),
                    "LayersNotFoundException", LayersNotFoundException);

  const got = await ecr.send(new BatchGetImageCommand({ repositoryName, imageIds: [{ imageTag: "v1" }, { imageTag: "nope" }],
                                                        acceptedMediaTypes: [OCI_MANIFEST] }));
  assert.equal(got.images.length, 1);
  assert.equal(got.images[0].imageManifest, imageManifest);
  assert.equal(got.failures[0].failureCode, "ImageNotFound");
  const ids = [];
  for await (const page of paginateListImages({ client: ecr, pageSize: 1 }, { repositoryName })) ids.push(...page.imageIds);
  assert.deepEqual(ids, [{ imageDigest: digest, imageTag: "v1" }]);
  const { imageDetails } = await ecr.send(new DescribeImagesCommand({ repositoryName }));
  assert.equal(imageDetails.length, 1);
  assert.equal(imageDetails[0].imageSizeInBytes, layer.length);
  assert.ok(imageDetails[0].imagePushedAt instanceof Date);
  assert.equal(imageDetails[0].imageManifestMediaType, OCI_MANIFEST);
  await rejectsWith(ecr.send(new DescribeImagesCommand({ repositoryName, imageIds: [{ imageTag: "nope" }] })),
                    "ImageNotFoundException", ImageNotFoundException);

  // the same image over the V2 API with a login token
  const { authorizationData } = await ecr.send(new GetAuthorizationTokenCommand({}));
  assert.ok(authorizationData[0].expiresAt instanceof Date);
  assert.equal(authorizationData[0].proxyEndpoint, endpoint);
  const auth = { Authorization: "Basic " + authorizationData[0].authorizationToken };
  let r = await fetch(`${endpoint}/v2/${repositoryName}/manifests/v1`, { headers: { ...auth, Accept: OCI_MANIFEST } });
  assert.equal(r.status, 200);
  assert.equal(await r.text(), imageManifest);
  r = await fetch(`${endpoint}/v2/${repositoryName}/blobs/${sha256(layer)}`, { headers: auth });
  assert.equal(r.status, 200);
  assert.ok(Buffer.from(await r.arrayBuffer()).equals(layer), "V2 served different layer bytes");
  const { downloadUrl } = await ecr.send(new GetDownloadUrlForLayerCommand({ repositoryName, layerDigest: sha256(config) }));
  r = await fetch(downloadUrl);
  assert.equal(r.status, 200);
  assert.ok(Buffer.from(await r.arrayBuffer()).equals(config));

  await rejectsWith(ecr.send(new DeleteRepositoryCommand({ repositoryName })),
                    "RepositoryNotEmptyException", RepositoryNotEmptyException);
  const del = await ecr.send(new BatchDeleteImageCommand({ repositoryName, imageIds: [{ imageTag: "v1" }] }));
  assert.deepEqual(del.imageIds, [{ imageDigest: digest, imageTag: "v1" }]);
  assert.deepEqual((await ecr.send(new ListImagesCommand({ repositoryName }))).imageIds, []);
});

test("upload errors carry their fields", async () => {
  const repositoryName = `${P}/upload-errors`;
  await ecr.send(new CreateRepositoryCommand({ repositoryName }));
  const { uploadId } = await ecr.send(new InitiateLayerUploadCommand({ repositoryName }));
  await ecr.send(new UploadLayerPartCommand({ repositoryName, uploadId, partFirstByte: 0, partLastByte: 99,
                                              layerPartBlob: new Uint8Array(randomBytes(100)) }));
  await rejectsWith(ecr.send(new UploadLayerPartCommand({ repositoryName, uploadId, partFirstByte: 500, partLastByte: 599,
                                                          layerPartBlob: new Uint8Array(randomBytes(100)) })),
                    "InvalidLayerPartException", InvalidLayerPartException,
                    (e) => { assert.equal(e.lastValidByteReceived, 99); assert.equal(e.uploadId, uploadId); });
});

test("tag immutability through PutImage", async () => {
  const repositoryName = `${P}/immutable`;
  await ecr.send(new CreateRepositoryCommand({ repositoryName, imageTagMutability: "IMMUTABLE" }));
  const manifests = [];
  for (let i = 0; i < 2; i++) {
    const layer = randomBytes(64);
    const config = newConfig();
    await uploadLayer(repositoryName, layer);
    await uploadLayer(repositoryName, config);
    manifests.push(manifestOf(config, [layer]));
  }
  await ecr.send(new PutImageCommand({ repositoryName, imageManifest: manifests[0], imageTag: "v1" }));
  await rejectsWith(ecr.send(new PutImageCommand({ repositoryName, imageManifest: manifests[1], imageTag: "v1" })),
                    "ImageTagAlreadyExistsException", ImageTagAlreadyExistsException);
});

test("creation templates", async () => {
  const prefix = `${P}tmpl`;
  const created = await ecr.send(new CreateRepositoryCreationTemplateCommand({
    prefix, appliedFor: ["CREATE_ON_PUSH"], imageTagMutability: "IMMUTABLE", description: "js" }));
  assert.equal(created.repositoryCreationTemplate.prefix, prefix);
  assert.ok(created.repositoryCreationTemplate.createdAt instanceof Date);
  await rejectsWith(ecr.send(new CreateRepositoryCreationTemplateCommand({ prefix, appliedFor: ["CREATE_ON_PUSH"] })),
                    "TemplateAlreadyExistsException", TemplateAlreadyExistsException);
  const all = [];
  for await (const page of paginateDescribeRepositoryCreationTemplates({ client: ecr, pageSize: 1 }, {}))
    all.push(...page.repositoryCreationTemplates);
  assert.ok(all.some((t) => t.prefix === prefix && t.imageTagMutability === "IMMUTABLE"));
  const upd = await ecr.send(new UpdateRepositoryCreationTemplateCommand({ prefix, description: "changed" }));
  assert.equal(upd.repositoryCreationTemplate.description, "changed");
  await ecr.send(new DeleteRepositoryCreationTemplateCommand({ prefix }));
  await rejectsWith(ecr.send(new DeleteRepositoryCreationTemplateCommand({ prefix })),
                    "TemplateNotFoundException", TemplateNotFoundException);
});

test("registry and account settings", async () => {
  assert.equal((await ecr.send(new DescribeRegistryCommand({}))).registryId, "000000000000");
  assert.equal((await ecr.send(new GetAccountSettingCommand({ name: "BLOB_MOUNTING" }))).value, "ENABLED");
  const out = await ecr.send(new PutAccountSettingCommand({ name: "BLOB_MOUNTING", value: "DISABLED" }));
  assert.equal(out.value, "DISABLED");
  await ecr.send(new PutAccountSettingCommand({ name: "BLOB_MOUNTING", value: "ENABLED" }));
});

test("authentication errors and unsupported operations by name", async () => {
  await rejectsWith(makeClient({ accessKeyId, secretAccessKey: secretAccessKey + "x" }).send(new DescribeRegistryCommand({})),
                    "InvalidSignatureException");
  await rejectsWith(makeClient({ accessKeyId: "AKIDJSUNKNOWN0000001", secretAccessKey }).send(new DescribeRegistryCommand({})),
                    "UnrecognizedClientException",
                    null, (e) => assert.equal(e.message, "The security token included in the request is invalid."));
  const other = region === "eu-west-3" ? "eu-west-2" : "eu-west-3";
  await rejectsWith(makeClient(undefined, other).send(new DescribeRegistryCommand({})), "InvalidSignatureException");
  await ecr.send(new CreateRepositoryCommand({ repositoryName: `${P}/unsupported` }));
  // [[operation, input], ...] documented as not yet implemented (chosen by test_ecr_js.py)
  const unsupported = JSON.parse(process.env.BERTH_ECR_UNSUPPORTED || "[]");
  for (const [op, input] of unsupported) {
    const Command = ECR[`${op}Command`];
    assert.ok(Command, `@aws-sdk/client-ecr has no ${op}Command`);
    await rejectsWith(ecr.send(new Command(input)), "UnsupportedOperationException", null,
                      (e) => assert.ok(e.message.includes(op), `message does not name ${op}: ${e.message}`));
  }
});
