// envmig in TeamCity (Kotlin DSL, .teamcity/settings.kts). For each
// environment (a directory infra/envmig/<environment>/ holding its spec):
//
//   envmig plan (<env>)     every branch and pull request touching the spec:
//                           validate, plan; plan.json and plan.md are the
//                           build's artifacts, made from the build's revision.
//   envmig apply (<env>)    default branch only, run by hand after merge:
//                           read the plan.md of the plan build of the merged
//                           revision, then "Promote" that build. A snapshot
//                           dependency pins the SAME revision, an artifact
//                           dependency brings THAT build's plan.json, and the
//                           person who runs it types the plan build's number
//                           as a confirmation.
//   envmig recovery (<env>) run by hand after an apply died, was stopped or
//                           failed, on any agent: status | resume | rollback
//                           | recover | cleanup.
//
// A run survives its agent: the specs keep their journal and lock in S3
// (`state { s3 { ... } }`, docs/ci.md). When an agent dies mid-apply, run
// "envmig recovery" with operation=status, then resume (or rollback before the
// point of no return). Never delete the lock object by hand, never re-plan
// while a run is unfinished.
//
// AWS credentials: no key is stored in TeamCity or in this file. Each
// project has AWS Connections (Project Settings > Connections) of type "IAM
// role", whose principal is the TeamCity server's own instance role (the
// default credential chain): TeamCity assumes the role per build and hands
// the build short-lived credentials through AWS_SHARED_CREDENTIALS_FILE,
// which envmig's SDK default chain reads. Create "EnvmigPlanner" (read-only,
// plus reads of the state bucket) and one "EnvmigApplier_<env>" per
// environment (`envmig iam-policy plan.json`, plus the state bucket); tick
// "Available for builds", and set each applier's session duration to the
// longest run you expect. Agents on EC2 with an instance profile work too:
// then drop the provideAwsCredentials features.
//
// envmig speaks TeamCity's service messages when TEAMCITY_VERSION is set:
// every step is a collapsible block, heartbeats are progress messages and a
// failed step is a build problem.
import jetbrains.buildServer.configs.kotlin.*
import jetbrains.buildServer.configs.kotlin.buildFeatures.provideAwsCredentials
import jetbrains.buildServer.configs.kotlin.buildFeatures.sharedResources
import jetbrains.buildServer.configs.kotlin.buildSteps.script
import jetbrains.buildServer.configs.kotlin.triggers.vcs

version = "2025.07"

val environments = listOf("staging", "production")

project {
    params {
        // The lock holder's CI job URL: envmig records it in the S3 lock, and
        // status and exit 3 print it. TeamCity does not set it by itself.
        param("env.TEAMCITY_BUILD_URL", "%teamcity.serverUrl%/viewLog.html?buildId=%teamcity.build.id%")
        param("env.ENVMIG_VERSION", "v1.0.0")
        // The spec's variables, the same for plan and apply:
        // param("env.ENVMIG_VAR_app", "shop")
    }
    for (env in environments) {
        val plan = Plan(env)
        buildType(plan)
        buildType(Apply(env, plan))
        buildType(Recover(env))
        features {
            // One apply per environment at a time; a second one waits in
            // the queue. The recovery builds have their own resource: an
            // apply build whose agent died holds this one until TeamCity
            // gives up on it, and recovery must not wait for that. envmig's
            // S3 lock is the real guard (exit 3).
            sharedResource {
                id = "EnvmigApply_$env"
                name = "envmig-apply-$env"
                resourceType = quoted(1)
            }
            sharedResource {
                id = "EnvmigRecovery_$env"
                name = "envmig-recovery-$env"
                resourceType = quoted(1)
            }
        }
    }
}

// The first step of every build: envmig itself, at the pinned version (the
// agents need Go), put on the PATH of the build's next steps.
fun BuildSteps.installEnvmig() {
    script {
        name = "install envmig"
        scriptContent = """
            #!/usr/bin/env bash
            set -euo pipefail
            bin="%teamcity.build.checkoutDir%/.bin"
            GOBIN="${'$'}bin" go install "github.com/envmig/envmig/cmd/envmig@%env.ENVMIG_VERSION%"
            echo "##teamcity[setParameter name='env.PATH' value='${'$'}bin:${'$'}PATH']"
        """.trimIndent()
    }
}

// A shell loop that runs one envmig command and retries it while another run
// holds the lock (exit 3). A dead holder's lease expires within minutes (2
// by default), so a retry takes the lock over from it; a live holder keeps
// it, and the build fails after about 5 minutes naming it.
fun retryOnLock(command: String) = """
    for attempt in 1 2 3 4 5 6; do
      code=0
      $command || code=${'$'}?
      if [ "${'$'}code" -ne 3 ] || [ "${'$'}attempt" -eq 6 ]; then
        break
      fi
      echo "##teamcity[message text='the state lock is held by another run (above); trying again in 60 s' status='WARNING']"
      sleep 60
    done
""".trimIndent()

class Plan(env: String) : BuildType({
    id("EnvmigPlan_$env")
    name = "envmig plan ($env)"
    vcs { root(DslContext.settingsRoot) }
    artifactRules = """
        plan/plan.json
        plan/plan.md
    """.trimIndent()
    steps {
        installEnvmig()
        script {
            name = "validate"
            scriptContent = "envmig -chdir=infra/envmig/$env validate"
        }
        script {
            name = "plan"
            // 0: no changes, 2: changes. 1 is an error: a blocked plan, an
            // unfinished run in the journal (finish it with "envmig recovery"),
            // or a run orphaned by a lost journal (the message names the
            // command: envmig recover, then envmig cleanup).
            scriptContent = """
                #!/usr/bin/env bash
                set -euo pipefail
                mkdir -p plan
                code=0
                envmig -chdir=infra/envmig/$env plan -detailed-exitcode -out "%teamcity.build.checkoutDir%/plan/plan.json" || code=${'$'}?
                if [ "${'$'}code" -ne 0 ] && [ "${'$'}code" -ne 2 ]; then
                  exit "${'$'}code"
                fi
                envmig show -markdown plan/plan.json > plan/plan.md
                echo "##teamcity[buildStatus text='{build.status.text}: ${'$'}([ "${'$'}code" -eq 2 ] && echo changes || echo no changes)']"
            """.trimIndent()
        }
    }
    triggers {
        vcs {
            // Every branch, pull requests included (they need the Pull
            // Requests build feature of your VCS hosting).
            branchFilter = "+:*"
            triggerRules = "+:infra/envmig/$env/**"
        }
    }
    features {
        provideAwsCredentials { awsConnectionId = "EnvmigPlanner" }
    }
})

class Apply(env: String, plan: Plan) : BuildType({
    id("EnvmigApply_$env")
    name = "envmig apply ($env)"
    description = "Apply the plan of the dependency build, on its revision"
    type = BuildTypeSettings.Type.DEPLOYMENT
    vcs {
        root(DslContext.settingsRoot)
        branchFilter = "+:<default>" // what was merged, never a pull request's branch
    }
    params {
        // The second pair of eyes: whoever runs this types the number of the
        // plan build they reviewed; a different plan is refused.
        text(
            "envmig.reviewed_plan", "",
            label = "Reviewed plan build",
            description = "The build number of the envmig plan ($env) build whose plan.md you reviewed",
            display = ParameterDisplay.PROMPT,
            allowEmpty = false,
        )
        param("env.ENVMIG_REVIEWED_PLAN", "%envmig.reviewed_plan%")
        param("env.ENVMIG_PLAN_BUILD", "%dep.${plan.id}.build.number%")
    }
    dependencies {
        // The same revision as the plan build: apply re-derives the plan
        // from the spec beside it and refuses any difference.
        snapshot(plan) {
            reuseBuilds = ReuseBuilds.SUCCESSFUL
            onDependencyFailure = FailureAction.FAIL_TO_START
        }
        // That build's plan.json, not a newer one.
        artifacts(plan) {
            buildRule = sameChainOrLastFinished()
            artifactRules = "plan.json => plan/"
        }
    }
    steps {
        installEnvmig()
        script {
            name = "apply"
            // Exit 3: see retryOnLock. Exit 4: live AWS changed since the
            // plan (nothing was changed): run the plan build again and review
            // it. Exit 1 or an agent lost after the point of no return: run
            // "envmig recovery ($env)" with operation=resume.
            scriptContent = """
                #!/usr/bin/env bash
                set -euo pipefail
                if [ "${'$'}ENVMIG_REVIEWED_PLAN" != "${'$'}ENVMIG_PLAN_BUILD" ]; then
                  echo "you reviewed plan build ${'$'}ENVMIG_REVIEWED_PLAN, but this apply depends on plan build ${'$'}ENVMIG_PLAN_BUILD: nothing applied" >&2
                  exit 1
                fi
                echo "Applying $env at %build.vcs.number%. If this build dies, run: envmig recovery ($env), operation status, on this revision."
            """.trimIndent() + "\n" + retryOnLock(
                "envmig -chdir=infra/envmig/$env apply -auto-approve \"%teamcity.build.checkoutDir%/plan/plan.json\""
            ) + "\nexit \"${'$'}code\"\n"
        }
        script {
            name = "status"
            // Read-only: where the run stands, and who holds the lock.
            executionMode = BuildStep.ExecutionMode.ALWAYS
            scriptContent = "envmig -chdir=infra/envmig/$env status || true"
        }
    }
    features {
        sharedResources { writeLock("envmig-apply-$env") }
        provideAwsCredentials { awsConnectionId = "EnvmigApplier_$env" }
    }
})

class Recover(env: String) : BuildType({
    id("EnvmigRecovery_$env")
    name = "envmig recovery ($env)"
    description = "After an apply died, was stopped or failed: status, resume, rollback, recover, cleanup"
    vcs { root(DslContext.settingsRoot) }
    params {
        select(
            "envmig.operation", "status",
            label = "Operation",
            description = "status: read only. resume: finish the run. rollback: undo it (before the point of no return). " +
                "recover: without a state backend, bring back what the run switched off. cleanup: remove what a finished run kept.",
            display = ParameterDisplay.PROMPT,
            options = listOf("status", "resume", "rollback", "recover", "cleanup"),
        )
    }
    steps {
        installEnvmig()
        script {
            name = "status"
            scriptContent = "envmig -chdir=infra/envmig/$env status"
        }
        script {
            name = "operation"
            // Run it on the revision of the apply build (Run... > Changes), or
            // on the default branch if the spec has not changed since.
            scriptContent = """
                #!/usr/bin/env bash
                set -euo pipefail
                dir=infra/envmig/$env
            """.trimIndent() + "\n" + retryOnLock(
                """
                case "%envmig.operation%" in
                  status)   ;;
                  resume)   envmig -chdir="${'$'}dir" resume -auto-approve ;;
                  rollback) envmig -chdir="${'$'}dir" rollback -auto-approve ;;
                  recover)  envmig -chdir="${'$'}dir" recover -auto-approve ;;
                  cleanup)  envmig -chdir="${'$'}dir" cleanup -auto-approve ;;
                esac
                """.trimIndent()
            ) + "\nexit \"${'$'}code\"\n"
        }
        script {
            name = "status afterwards"
            executionMode = BuildStep.ExecutionMode.ALWAYS
            scriptContent = "envmig -chdir=infra/envmig/$env status || true"
        }
    }
    features {
        sharedResources { writeLock("envmig-recovery-$env") }
        // Status needs only the planner; the operations need the applier.
        provideAwsCredentials { awsConnectionId = "EnvmigApplier_$env" }
    }
})
