// envmig in TeamCity (Kotlin DSL, .teamcity/settings.kts): the original
// scripts ran from TeamCity, and envmig speaks its service messages when
// TEAMCITY_VERSION is set: every step is a collapsible block, heartbeats are
// progress messages, and a failed step is a build problem.
import jetbrains.buildServer.configs.kotlin.*
import jetbrains.buildServer.configs.kotlin.buildSteps.script
import jetbrains.buildServer.configs.kotlin.triggers.vcs

version = "2025.07"

project {
    buildType(Plan)
    buildType(Apply)
}

object Plan : BuildType({
    name = "envmig plan"
    artifactRules = "plan.json\nplan.md"
    steps {
        script {
            name = "plan"
            scriptContent = """
                set +e
                envmig -chdir=infra/envmig plan -detailed-exitcode -out "%teamcity.build.checkoutDir%/plan.json"
                code=${'$'}?
                set -e
                [ "${'$'}code" = 0 ] || [ "${'$'}code" = 2 ] || exit "${'$'}code"
                envmig show -markdown plan.json > plan.md
            """.trimIndent()
        }
    }
    triggers { vcs { branchFilter = "+:pull/*" } }
})

object Apply : BuildType({
    name = "envmig apply (production)"
    // Run by hand after review; a second person confirms in TeamCity's UI.
    params { checkbox("confirm", "", label = "I reviewed the plan of this build's dependency", checked = "true") }
    dependencies {
        artifacts(Plan) { artifactRules = "plan.json" }
    }
    steps {
        script {
            name = "apply"
            // Exit 4: live AWS changed since the plan; run Plan again.
            scriptContent = "envmig -chdir=infra/envmig apply -auto-approve %teamcity.build.checkoutDir%/plan.json"
        }
        script {
            name = "status"
            executionMode = BuildStep.ExecutionMode.ALWAYS
            scriptContent = "envmig -chdir=infra/envmig status"
        }
    }
})
