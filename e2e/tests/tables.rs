//! `kubectl get` prints upstream's columns: the server answers Table requests with each kind's
//! column definitions and cells.

use e2e::{Cluster, KUBECTL_VERSIONS};

fn header(out: &str) -> String {
    out.lines().next().unwrap_or("").split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn kubectl_get_prints_upstream_columns() {
    let c = Cluster::start();
    let v = KUBECTL_VERSIONS[1];
    let manifests = r#"{"apiVersion":"v1","kind":"List","items":[
      {"apiVersion":"v1","kind":"Node","metadata":{"name":"node-1","labels":{"node-role.kubernetes.io/control-plane":""}},"status":{"conditions":[{"type":"Ready","status":"True"}],"nodeInfo":{"kubeletVersion":"v1.33.0","osImage":"Debian","kernelVersion":"6.1","containerRuntimeVersion":"containerd://1.6.20","architecture":"amd64","bootID":"","machineID":"","systemUUID":"","kubeProxyVersion":"","operatingSystem":"linux"},"addresses":[{"type":"InternalIP","address":"10.0.0.5"}]}},
      {"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"nginx"}]}},
      {"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"nginx","image":"nginx:1.25"}]}}}},
      {"apiVersion":"v1","kind":"Service","metadata":{"name":"np"},"spec":{"type":"NodePort","selector":{"app":"web"},"ports":[{"port":80}]}},
      {"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},"stringData":{"a":"b"}},
      {"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"a":"b"}}
    ]}"#;
    let out = c.api.kubectl_stdin(v, &["create", "-f-"], Some(manifests));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for v in KUBECTL_VERSIONS {
        let cases: &[(&[&str], &str)] = &[
            (&["get", "pods"], "NAME READY STATUS RESTARTS AGE"),
            (&["get", "pods", "-o", "wide"], "NAME READY STATUS RESTARTS AGE IP NODE NOMINATED NODE READINESS GATES"),
            (&["get", "deploy", "-o", "wide"], "NAME READY UP-TO-DATE AVAILABLE AGE CONTAINERS IMAGES SELECTOR"),
            (&["get", "rs"], "No resources"),
            (&["get", "svc"], "NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE"),
            (&["get", "svc", "-o", "wide"], "NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE SELECTOR"),
            (&["get", "nodes"], "NAME STATUS ROLES AGE VERSION"),
            (
                &["get", "nodes", "-o", "wide"],
                "NAME STATUS ROLES AGE VERSION INTERNAL-IP EXTERNAL-IP OS-IMAGE KERNEL-VERSION CONTAINER-RUNTIME",
            ),
            (&["get", "ns"], "NAME STATUS AGE"),
            (&["get", "secrets"], "NAME TYPE DATA AGE"),
            (&["get", "cm"], "NAME DATA AGE"),
        ];
        for (args, want) in cases {
            let out = c.api.kubectl(v, args);
            let text = String::from_utf8_lossy(&out.stdout);
            if *want == "No resources" {
                assert!(String::from_utf8_lossy(&out.stderr).contains("No resources found"), "kubectl {v} {args:?}");
                continue;
            }
            assert_eq!(header(&text), *want, "kubectl {v} {args:?}:\n{text}");
        }
        let pods = c.api.kubectl_ok(v, &["get", "pods", "p"]);
        let row: Vec<&str> = pods.lines().nth(1).unwrap().split_whitespace().collect();
        assert_eq!(&row[..4], &["p", "0/1", "Pending", "0"]);
        let svc = c.api.kubectl_ok(v, &["get", "svc", "np"]);
        assert!(svc.lines().nth(1).unwrap().contains("NodePort"), "{svc}");
        assert!(svc.contains("80:3"), "{svc}");
        let nodes = c.api.kubectl_ok(v, &["get", "nodes"]);
        let row: Vec<&str> = nodes.lines().nth(1).unwrap().split_whitespace().collect();
        assert_eq!((row[0], row[1], row[2], row[4]), ("node-1", "Ready", "control-plane", "v1.33.0"), "{nodes}");
        let all = c.api.kubectl_ok(v, &["get", "all"]);
        for want in ["pod/p", "service/np", "deployment.apps/web"] {
            assert!(all.contains(want), "{all}");
        }
    }
}
