//! The OpenAPI 3.1 document (utoipa, generated from the handlers), with what the
//! middleware may answer on any route and the links from a plan to its status and
//! sub-resources, so a stateful client (schemathesis) can follow them.

use super::body::{self, PlanRequest, ReplanRequest, ScenarioBody, ScenarioDirBody};
use super::error::ErrorBody;
use super::export;
use super::routes::{self, PlanList, PlanView, Progress, RowsPage};
use super::store::{State, Status};
use utoipa::OpenApi;
use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};

#[derive(OpenApi)]
#[openapi(
    info(title = "otaplan", description = "Plans when each device of a fleet downloads a firmware release."),
    paths(routes::create_plan, routes::list_plans, routes::get_plan, routes::delete_plan,
        routes::get_devices, routes::get_unscheduled, routes::get_report, export::get_export, routes::replan,
        routes::healthz, routes::readyz, routes::metrics_text, routes::openapi_json),
    components(schemas(PlanRequest, ScenarioBody, ScenarioDirBody, ReplanRequest, body::ProgressRow,
        PlanView, Progress, PlanList, Status, State, RowsPage, ErrorBody, export::ExportTarget)),
    modifiers(&Shared),
    security(("bearer" = []))
)]
pub struct ApiDoc;

/// The operations a plan's id leads to (operation ids are the handlers' names).
const FROM_PLAN: [(&str, &str); 6] = [
    ("GetPlan", "get_plan"),
    ("GetDevices", "get_devices"),
    ("GetUnscheduled", "get_unscheduled"),
    ("GetReport", "get_report"),
    ("Replan", "replan"),
    ("DeletePlan", "delete_plan"),
];

struct Shared;
impl utoipa::Modify for Shared {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let comps = doc.components.get_or_insert_with(Default::default);
        comps.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        let error = |desc: &str| {
            ResponseBuilder::new()
                .description(desc)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorBody")))
                        .build(),
                )
                .build()
        };
        for (path, item) in doc.paths.paths.iter_mut() {
            let open = path == "/healthz" || path == "/readyz";
            for op in [&mut item.get, &mut item.post, &mut item.delete]
                .into_iter()
                .flatten()
            {
                let r = &mut op.responses.responses;
                if !open {
                    r.entry("401".into())
                        .or_insert_with(|| error("no or wrong bearer token").into());
                }
                r.entry("408".into())
                    .or_insert_with(|| error("the request timed out").into());
                r.entry("414".into())
                    .or_insert_with(|| error("the URI is too long").into());
            }
        }
        add_links(doc);
    }
}

/// Links from every answer that carries a plan (`id` in its body) to what it leads to.
fn add_links(doc: &mut utoipa::openapi::OpenApi) {
    let sources = [
        ("/v1/plans", "post", ["200", "201", "202"].as_slice()),
        ("/v1/plans/{id}", "get", ["200"].as_slice()),
        (
            "/v1/plans/{id}/replan",
            "post",
            ["200", "201", "202"].as_slice(),
        ),
    ];
    for (path, method, codes) in sources {
        let Some(item) = doc.paths.paths.get_mut(path) else {
            continue;
        };
        let op = match method {
            "post" => item.post.as_mut(),
            _ => item.get.as_mut(),
        };
        let Some(op) = op else { continue };
        for code in codes {
            let Some(utoipa::openapi::RefOr::T(resp)) = op.responses.responses.get_mut(*code)
            else {
                continue;
            };
            for (name, target) in FROM_PLAN {
                let link = LinkBuilder::new()
                    .operation_id(target)
                    .parameter("id", "$response.body#/id")
                    .build();
                resp.links.insert(name.to_string(), link.into());
            }
        }
    }
}

/// The document as JSON. utoipa 5.5 writes a link's `operationId` as `operation_id`;
/// renamed here so clients find the links' targets.
pub fn document() -> serde_json::Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    if let Some(paths) = doc.get_mut("paths").and_then(|p| p.as_object_mut()) {
        for op in paths
            .values_mut()
            .filter_map(|i| i.as_object_mut())
            .flat_map(|i| i.values_mut())
        {
            let Some(responses) = op.get_mut("responses").and_then(|r| r.as_object_mut()) else {
                continue;
            };
            for links in responses
                .values_mut()
                .filter_map(|r| r.get_mut("links")?.as_object_mut())
            {
                for link in links.values_mut().filter_map(|l| l.as_object_mut()) {
                    if let Some(v) = link.remove("operation_id") {
                        link.insert("operationId".into(), v);
                    }
                }
            }
        }
    }
    doc
}
