// The release of examples/yaml, from TypeScript, through the SDK `pulumi package gen-sdk` makes
// from plugin/schema.json (imported as @istio-canary/canary).
import * as canary from "@istio-canary/canary";

const release = new canary.CanaryRelease("release", {
    namespace: "shop-ts",
    app: "web",
    hosts: ["shop.example.org"],
    versions: [
        { version: "v1", image: "nginx:1.27" },
        { version: "v2", image: "nginx:1.28", securityProfile: "root" },
    ],
    stable: "v1",
    canary: { version: "v2", cookie: "version=v2", weight: 10 },
});

export const namespace = release.namespace;
export const urls = release.urls;
export const routes = release.routes;
