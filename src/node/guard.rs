//! Panic guards for the async tasks. napi-rs runs a task's `compute` on a libuv thread and its `resolve`,
//! `reject`, `finally` and the result's conversion on the JS thread, all through `extern "C"` callbacks that a
//! panic cannot unwind through (the process would abort). [`guarded`] wraps a task so that a panic anywhere in it
//! becomes a rejected Promise whose Error names the call.

use std::panic::{catch_unwind, AssertUnwindSafe};

use napi::bindgen_prelude::{AsyncTask, ToNapiValue, TypeName};
use napi::{Env, Task, ValueType};

/// A task whose every step turns a panic into an Error named after `function`.
pub struct Guarded<T> {
    task: T,
    function: &'static str,
}

/// `task` as the AsyncTask of the JS call `function`, panic-guarded.
pub fn guarded<T: Task>(function: &'static str, task: T) -> AsyncTask<Guarded<T>> {
    AsyncTask::new(Guarded { task, function })
}

/// Runs `step`, turning a panic into an Error that names `function` and carries the panic's message.
fn unwinding<R>(function: &str, step: impl FnOnce() -> napi::Result<R>) -> napi::Result<R> {
    catch_unwind(AssertUnwindSafe(step)).unwrap_or_else(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Err(napi::Error::from_reason(format!("{function}: internal error (a bug in neuro-divergent): {message}")))
    })
}

impl<T: Task> Task for Guarded<T> {
    type Output = T::Output;
    type JsValue = GuardedValue<T::JsValue>;

    fn compute(&mut self) -> napi::Result<T::Output> {
        unwinding(self.function, || self.task.compute())
    }

    fn resolve(&mut self, env: Env, output: T::Output) -> napi::Result<Self::JsValue> {
        let function = self.function;
        unwinding(function, || self.task.resolve(env, output)).map(|value| GuardedValue { value, function })
    }

    fn reject(&mut self, env: Env, error: napi::Error) -> napi::Result<Self::JsValue> {
        let function = self.function;
        unwinding(function, || self.task.reject(env, error)).map(|value| GuardedValue { value, function })
    }

    fn finally(self, env: Env) -> napi::Result<()> {
        let (task, function) = (self.task, self.function);
        unwinding(function, || task.finally(env))
    }
}

/// A task's result, converted into a JS value under the same guard.
pub struct GuardedValue<V> {
    value: V,
    function: &'static str,
}

impl<V: TypeName> TypeName for GuardedValue<V> {
    fn type_name() -> &'static str {
        V::type_name()
    }

    fn value_type() -> ValueType {
        V::value_type()
    }
}

impl<V: ToNapiValue> ToNapiValue for GuardedValue<V> {
    unsafe fn to_napi_value(env: napi::sys::napi_env, guarded: Self) -> napi::Result<napi::sys::napi_value> {
        let GuardedValue { value, function } = guarded;
        unwinding(function, || unsafe { V::to_napi_value(env, value) })
    }
}
