"""The official Python client (kubernetes==33.1.0) against our apiserver: create, list,
strategic and merge patches, and server-side apply of a Deployment. Exits non-zero with
the failed check on stderr."""

import json
import sys

from kubernetes import client, config

NS = "default"
NAME = sys.argv[1] if len(sys.argv) > 1 else "py-web"


def check(cond, what):
    if not cond:
        print(f"check failed: {what}", file=sys.stderr)
        sys.exit(1)


def apps_sending(content_type):
    """An AppsV1Api whose PATCH bodies go out as `content_type` (the client picks strategic
    merge for objects and JSON patch for lists otherwise)."""
    api = client.ApiClient()
    api.set_default_header("Content-Type", content_type)
    return client.AppsV1Api(api)


def main():
    config.load_kube_config()
    apps = client.AppsV1Api()
    merge = apps_sending("application/merge-patch+json")
    apply = apps_sending("application/apply-patch+yaml")
    body = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": NAME, "labels": {"app": NAME}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": NAME}},
            "template": {
                "metadata": {"labels": {"app": NAME}},
                "spec": {"containers": [{"name": "nginx", "image": "nginx:1.25"}]},
            },
        },
    }
    created = apps.create_namespaced_deployment(NS, body)
    check(created.metadata.name == NAME, "create returns the deployment")
    check(created.spec.template.spec.containers[0].image_pull_policy == "IfNotPresent", "defaults applied")

    names = [d.metadata.name for d in apps.list_namespaced_deployment(NS).items]
    check(NAME in names, f"list contains {NAME}: {names}")

    # Strategic merge: containers merge by name, so the image stays and env is added.
    patched = apps.patch_namespaced_deployment(
        NAME,
        NS,
        {"spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "nginx", "env": [{"name": "A", "value": "1"}]}]}}}},
    )
    c = patched.spec.template.spec.containers
    check(len(c) == 1 and c[0].image == "nginx:1.25", "strategic patch keeps the container")
    check([e.name for e in c[0].env] == ["A"], "strategic patch adds env")
    check(patched.spec.replicas == 2, "strategic patch sets replicas")

    patched = merge.patch_namespaced_deployment(NAME, NS, {"metadata": {"labels": {"tier": "web"}}})
    check(patched.metadata.labels == {"app": NAME, "tier": "web"}, f"merge patch labels: {patched.metadata.labels}")

    applied = apply.patch_namespaced_deployment(
        NAME,
        NS,
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": NAME}, "spec": {"replicas": 4}},
        field_manager="py-apply",
        force=True,
    )
    check(applied.spec.replicas == 4, "server-side apply sets replicas")
    entries = {(m.manager, m.operation): m for m in applied.metadata.managed_fields}
    check(("py-apply", "Apply") in entries, f"apply entry recorded: {list(entries)}")
    check(entries[("py-apply", "Apply")].fields_v1 == {"f:spec": {"f:replicas": {}}}, "apply owns spec.replicas")

    # A second applier without force conflicts on the same field.
    try:
        apply.patch_namespaced_deployment(
            NAME,
            NS,
            {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": NAME}, "spec": {"replicas": 5}},
            field_manager="other",
        )
        check(False, "a conflicting apply must fail")
    except client.exceptions.ApiException as e:
        check(e.status == 409, f"conflict status {e.status}")
        message = json.loads(e.body)["message"]
        check(message == 'Apply failed with 1 conflict: conflict with "py-apply": .spec.replicas', message)

    apps.delete_namespaced_deployment(NAME, NS)
    print("python client: ok")


if __name__ == "__main__":
    main()
