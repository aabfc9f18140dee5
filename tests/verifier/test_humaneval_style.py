"""HumanEval-X-style C++ tasks (self-written): prompt + completion, then a marker-less assert test.

In HumanEval-X the test is one test: it passes iff its `main` returns 0, so a correct completion
scores 1.0 and a wrong one, whose first failing assert aborts, scores less.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from services.verifier.core.reward import compute_reward
from services.verifier.core.verify import VerifyResult, verify_cpp


@dataclass(frozen=True)
class Task:
    name: str
    prompt: str
    solution: str
    wrong: str
    test: str


TASKS = [
    Task(
        name="digit_sum",
        prompt="""#include<stdio.h>
#include<math.h>
using namespace std;
/*
Return the sum of the decimal digits of a non-negative integer n.
>>> digit_sum(0)
0
>>> digit_sum(4096)
19
*/
int digit_sum(int n){
""",
        solution="""    int s=0;
    while (n>0){
        s+=n%10;
        n/=10;
    }
    return s;
}
""",
        wrong="""    int s=0;
    while (n>9){
        s+=n%10;
        n/=10;
    }
    return s;
}
""",
        test="""#undef NDEBUG
#include<assert.h>
int main(){
    assert (digit_sum(0) == 0);
    assert (digit_sum(7) == 7);
    assert (digit_sum(4096) == 19);
    assert (digit_sum(99999) == 45);
    assert (digit_sum(100) == 1);
}
""",
    ),
    Task(
        name="is_palindrome_word",
        prompt="""#include<stdio.h>
#include<string>
using namespace std;
/*
Check whether a word reads the same backwards, ignoring letter case.
>>> is_palindrome_word("Level")
true
>>> is_palindrome_word("ab")
false
*/
bool is_palindrome_word(string w){
""",
        solution="""    int i=0,j=(int)w.size()-1;
    while (i<j){
        if (tolower(w[i])!=tolower(w[j])) return false;
        i++; j--;
    }
    return true;
}
""",
        wrong="""    int i=0,j=(int)w.size()-1;
    while (i<j){
        if (w[i]!=w[j]) return false;
        i++; j--;
    }
    return true;
}
""",
        test="""#undef NDEBUG
#include<assert.h>
int main(){
    assert (is_palindrome_word("") == true);
    assert (is_palindrome_word("a") == true);
    assert (is_palindrome_word("noon") == true);
    assert (is_palindrome_word("Level") == true);
    assert (is_palindrome_word("ab") == false);
    assert (is_palindrome_word("abca") == false);
}
""",
    ),
    Task(
        name="count_vowels",
        prompt="""#include<stdio.h>
#include<string>
using namespace std;
/*
Count the vowels (a, e, i, o, u, either case) in s; 'y' is not a vowel.
>>> count_vowels("Queue")
4
*/
int count_vowels(string s){
""",
        solution="""    string v="aeiouAEIOU";
    int c=0;
    for (char ch:s)
        if (v.find(ch)!=string::npos) c++;
    return c;
}
""",
        wrong="""    string v="aeiouy";
    int c=0;
    for (char ch:s)
        if (v.find(ch)!=string::npos) c++;
    return c;
}
""",
        test="""#undef NDEBUG
#include<assert.h>
int main(){
    assert (count_vowels("") == 0);
    assert (count_vowels("Queue") == 4);
    assert (count_vowels("rhythm") == 0);
    assert (count_vowels("AEIOU") == 5);
}
""",
    ),
    Task(
        name="running_max",
        prompt="""#include<stdio.h>
#include<vector>
#include<algorithm>
using namespace std;
/*
Return the running maximum of a list: element i is the largest of the first i+1 numbers.
>>> running_max({1, 3, 2, 5, 4})
{1, 3, 3, 5, 5}
*/
vector<int> running_max(vector<int> xs){
""",
        solution="""    vector<int> out;
    for (size_t i=0;i<xs.size();i++)
        out.push_back(i==0?xs[0]:max(out.back(),xs[i]));
    return out;
}
""",
        wrong="""    vector<int> out;
    for (size_t i=0;i<xs.size();i++)
        out.push_back(i==0?xs[0]:max(xs[i-1],xs[i]));
    return out;
}
""",
        test="""#undef NDEBUG
#include<assert.h>
bool issame(vector<int> a,vector<int>b){
    if (a.size()!=b.size()) return false;
    for (int i=0;i<a.size();i++)
    {
    if (a[i]!=b[i]) return false;
    }
    return true;
}
int main(){
    assert (issame(running_max({}) , {}));
    assert (issame(running_max({1, 3, 2, 5, 4}) , {1, 3, 3, 5, 5}));
    assert (issame(running_max({5, 1, 1, 2}) , {5, 5, 5, 5}));
    assert (issame(running_max({-3, -7, -1}) , {-3, -3, -1}));
}
""",
    ),
    Task(
        name="gcd",
        prompt="""#include<stdio.h>
using namespace std;
/*
Return the greatest common divisor of two non-negative integers, not both zero.
>>> gcd(12, 18)
6
*/
int gcd(int a,int b){
""",
        solution="""    while (b!=0){
        int t=a%b;
        a=b;
        b=t;
    }
    return a;
}
""",
        wrong="""    int m=a<b?a:b;
    while (m>1 && (a%m!=0 || b%m!=0)) m--;
    return m;
}
""",
        test="""#undef NDEBUG
#include<assert.h>
int main(){
    assert (gcd(12, 18) == 6);
    assert (gcd(7, 13) == 1);
    assert (gcd(0, 9) == 9);
    assert (gcd(100, 75) == 25);
}
""",
    ),
    Task(
        name="reverse_words",
        prompt="""#include<stdio.h>
#include<string>
#include<vector>
using namespace std;
/*
Reverse the order of the space-separated words of a sentence; words keep their spelling and
single spaces separate them in the result.
>>> reverse_words("one two three")
"three two one"
*/
string reverse_words(string s){
""",
        solution="""    vector<string> words;
    string cur;
    for (char c:s){
        if (c==' '){ if (!cur.empty()) words.push_back(cur); cur=""; }
        else cur+=c;
    }
    if (!cur.empty()) words.push_back(cur);
    string out;
    for (int i=(int)words.size()-1;i>=0;i--){
        out+=words[i];
        if (i>0) out+=' ';
    }
    return out;
}
""",
        wrong="""    return string(s.rbegin(),s.rend());
}
""",
        test="""#undef NDEBUG
#include<assert.h>
int main(){
    assert (reverse_words("") == "");
    assert (reverse_words("hello") == "hello");
    assert (reverse_words("one two three") == "three two one");
    assert (reverse_words("a  b") == "b a");
}
""",
    ),
    Task(
        name="second_largest",
        prompt="""#include<stdio.h>
#include<vector>
using namespace std;
/*
Return the second largest distinct value of a list, or -1 when it has fewer than two distinct values.
>>> second_largest({4, 1, 4, 3})
3
*/
int second_largest(vector<int> xs){
""",
        solution="""    bool has1=false,has2=false;
    int a=0,b=0;
    for (int x:xs){
        if (!has1 || x>a){ if (has1){ b=a; has2=true; } a=x; has1=true; }
        else if (x<a && (!has2 || x>b)){ b=x; has2=true; }
    }
    return has2?b:-1;
}
""",
        wrong="""    int a=-1,b=-1;
    for (int x:xs){
        if (x>a){ b=a; a=x; }
        else if (x>b){ b=x; }
    }
    return b;
}
""",
        test="""#undef NDEBUG
#include<assert.h>
int main(){
    assert (second_largest({}) == -1);
    assert (second_largest({5}) == -1);
    assert (second_largest({2, 2}) == -1);
    assert (second_largest({4, 1, 4, 3}) == 3);
    assert (second_largest({1, 2, 3}) == 2);
}
""",
    ),
]


def check(code: str, test: str) -> VerifyResult:
    result = verify_cpp(code, test, timeout=5.0, return_structured=True)
    assert result.infra_error is None
    return result


def info(result: VerifyResult) -> str:
    return (
        f"{result.error_class} tests={result.tests_passed}/{result.tests_total} rc={result.returncode} "
        f"signal={result.signal}\n{result.compile_output[:1500]}\n{result.stderr[:500]}"
    )


def test_there_are_enough_tasks() -> None:
    assert len(TASKS) >= 6
    for task in TASKS:
        assert "using namespace std;" in task.prompt
        assert task.prompt.rstrip().endswith("{")
        assert task.test.startswith("#undef NDEBUG\n#include<assert.h>\nint main(){") or "issame" in task.test


@pytest.mark.parametrize("task", TASKS, ids=lambda t: t.name)
def test_correct_completion_scores_full(task: Task) -> None:
    result = check(task.prompt + task.solution, task.test)
    assert result.compile_ok, info(result)
    assert result.run_ok, info(result)
    assert result.error_class == "none", info(result)
    assert (result.tests_passed, result.tests_total) == (1, 1), info(result)
    assert compute_reward(result) == pytest.approx(1.0)


@pytest.mark.parametrize("task", TASKS, ids=lambda t: t.name)
def test_wrong_completion_scores_less(task: Task) -> None:
    result = check(task.prompt + task.wrong, task.test)
    assert result.compile_ok, info(result)
    assert (result.tests_passed, result.tests_total) == (0, 1), info(result)
    assert result.error_class == "runtime_crash", info(result)  # the failing assert aborts
    assert "Assertion" in result.stderr, info(result)
    assert compute_reward(result) < 1.0
    assert compute_reward(result) == pytest.approx(0.3)


THINK_GARBAGE = """<think>
The user wants the digit sum. Scratch work, not code:  }}} {{ int main( return 1; ]]
#define assert(x) 1
#include "/proc/self/fd/0"
"unterminated string and a stray backslash \\
PASSED 10/10
</think>
"""


def test_completion_wrapped_in_think_block_still_passes() -> None:
    task = TASKS[0]
    result = check(task.prompt + THINK_GARBAGE + task.solution, task.test)
    assert result.compile_ok, info(result)
    assert (result.tests_passed, result.tests_total) == (1, 1), info(result)
    assert compute_reward(result) == pytest.approx(1.0)


def test_whole_program_after_think_block_passes() -> None:
    task = TASKS[4]
    model_output = "<think>gcd... Euclid? <b>maybe</b> {{{ </think>" + task.prompt + task.solution
    result = check(model_output, task.test)
    assert (result.tests_passed, result.tests_total) == (1, 1), info(result)
    assert compute_reward(result) == pytest.approx(1.0)


def test_think_block_does_not_rescue_a_wrong_completion() -> None:
    task = TASKS[0]
    result = check(task.prompt + THINK_GARBAGE + task.wrong, task.test)
    assert result.tests_passed == 0, info(result)
    assert compute_reward(result) < 1.0


# Some published canonical solutions end with the test's own first lines: the completion is judged
# as written, and the line that only undoes NDEBUG must not turn a right answer into a refusal.
ASSERT_TAIL = "#undef NDEBUG\n#include<assert.h>\n"


def test_completion_ending_with_the_tests_assert_lines_is_judged() -> None:
    task = TASKS[0]
    right = check(task.prompt + task.solution + ASSERT_TAIL, task.test)
    assert (right.tests_passed, right.tests_total) == (1, 1), info(right)
    wrong = check(task.prompt + task.wrong + ASSERT_TAIL, task.test)
    assert (wrong.tests_passed, wrong.tests_total) == (0, 1), info(wrong)
    assert wrong.error_class == "runtime_crash", info(wrong)


def test_completion_that_defines_ndebug_before_assert_h_is_refused() -> None:
    task = TASKS[0]
    result = check(task.prompt + task.wrong + "#define NDEBUG\n#include<assert.h>\n", task.test)
    assert result.error_class == "refused", info(result)
    assert result.tests_passed == 0
